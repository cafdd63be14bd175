"""Neural-network generators: matmul/linear/bmm and friends, the softmax family,
normalizations, convolution and pooling, embedding, losses, dropout and random ops."""

from __future__ import annotations

from .catalog import register


def _batch_leading(g, x: str) -> bool:
    """Whether ``x`` varies with the batch exactly in dim 0 (a new input can match it)."""
    return g.varying(x) == {0}


@register("linalg", 4.0)
def matmul(g) -> bool:
    a = g.pick_float(min_rank=1, max_rank=4)
    shape = g.shape(a)
    varying = g.varying(a)
    k = shape[-1]
    n = len(shape)
    dtype = g.dtype(a)
    if n - 1 in varying:  # the contracted dim is the batch: only a (K, M) or (K,) input with K = batch
        if n - 1 != 0 and not g.coin(0.5):
            return False
        other = g.new_input(dtype, (k, g.choice((1, 2, 3))) if g.coin(0.6) else (k,), batch=True)
        return g.add(g.choice(("{0} @ {1}", "torch.matmul({0}, {1})")), (a, other), "matmul")
    m = g.choice((1, 2, 3, 4))
    form = g.choice(
        ("matmul", "matmul", "vector", "batched", "linear", "linear", "mm", "bmm", "einsum", "addmm")
    )
    if form == "vector":
        other = g.new_input(dtype, (k,))
        return g.add(
            g.choice(
                (
                    "{0} @ {1}",
                    "torch.matmul({0}, {1})",
                    "torch.mv({0}, {1})" if n == 2 else "{0} @ {1}",
                    "torch.dot({0}, {1})" if n == 1 else "{0} @ {1}",
                )
            ),
            (a, other),
            "matvec",
        )
    if form == "linear":
        w = g.new_input(dtype, (m, k))
        if g.coin(0.6):
            b = g.new_input(dtype, (m,))
            return g.add(
                g.choice(("F.linear({0}, {1}, {2})", "F.linear({0}, {1}, bias={2})")), (a, w, b), "linear"
            )
        return g.add("F.linear({0}, {1})", (a, w), "linear")
    if form == "mm" and n == 2:
        other = g.new_input(dtype, (k, m))
        return g.add(g.choice(("torch.mm({0}, {1})", "{0}.mm({1})")), (a, other), "mm")
    if form == "addmm" and n == 2:
        other = g.new_input(dtype, (k, m))
        c = g.new_input(dtype, (m,))
        return g.add("torch.addmm({2}, {0}, {1}, beta=0.5, alpha=2.0)", (a, other, c), "addmm")
    if form in ("bmm", "batched", "einsum") and n == 3:
        if varying - {0}:
            return False
        other = g.new_input(dtype, (shape[0], k, m), batch=0 in varying)
        if form == "einsum":
            return g.add('torch.einsum("bij,bjk->bik", {0}, {1})', (a, other), "einsum")
        return g.add(g.choice(("torch.bmm({0}, {1})", "{0}.bmm({1})", "{0} @ {1}")), (a, other), "bmm")
    if form == "batched" and n >= 2:
        lead = tuple(1 if (i in varying or g.coin(0.3)) else s for i, s in enumerate(shape[:-2]))
        other = g.new_input(dtype, lead + (k, m))
        return g.add("torch.matmul({0}, {1})", (a, other), "matmul")
    other = g.new_input(dtype, (k, m))
    return g.add(g.choice(("{0} @ {1}", "torch.matmul({0}, {1})", "{0}.matmul({1})")), (a, other), "matmul")


@register("linalg", 0.7)
def outer(g) -> bool:
    a = g.pick_float(min_rank=1, max_rank=1)
    b = g.pick_float(min_rank=1, max_rank=1, pred=lambda n: g.dtype(n) == g.dtype(a))
    return g.add(g.choice(("torch.outer({0}, {1})", "torch.ger({0}, {1})")), (a, b), "outer")


@register("nn", 3.0)
def softmax(g) -> bool:
    x = g.pick_float(min_rank=0)
    n = g.ndim(x)
    d = g.axis(n) or (0, g.choice(("0", "-1")))
    op = g.choice(("softmax", "log_softmax", "softmin"))
    dtype = ", dtype=torch.float64" if g.coin(0.1) else ""
    if op == "softmin":
        return g.add(f"F.softmin({{0}}, dim={d[1]})", (x,), op)
    return g.add(
        g.choice(
            (
                f"F.{op}({{0}}, dim={d[1]}{dtype})",
                f"torch.{op}({{0}}, {d[1]}{dtype})",
                f"{{0}}.{op}({d[1]})",
            )
        ),
        (x,),
        op,
    )


@register("nn", 2.0)
def layer_norm(g) -> bool:
    x = g.pick_float(min_rank=1)
    fixed_tail = 0
    for d in reversed(range(g.ndim(x))):
        if d in g.varying(x):
            break
        fixed_tail += 1
    if fixed_tail == 0:
        return False
    k = int(g.rng.integers(1, min(fixed_tail, 3) + 1))
    norm_shape = g.shape(x)[g.ndim(x) - k :]
    shape_text = "(" + ", ".join(map(str, norm_shape)) + ("," if k == 1 else "") + ")"
    op = g.choice(("layer_norm", "layer_norm", "rms_norm", "normalize"))
    if op == "normalize":
        return g.add(f"F.normalize({{0}}, dim={-k})", (x,), op)
    eps = g.choice(("", ", eps=1e-5", ", eps=0.1"))
    if g.coin(0.6):
        w = g.new_input(g.dtype(x), norm_shape)
        if op == "layer_norm" and g.coin(0.7):
            b = g.new_input(g.dtype(x), norm_shape)
            return g.add(f"F.layer_norm({{0}}, {shape_text}, {{1}}, {{2}}{eps})", (x, w, b), op)
        return g.add(f"F.{op}({{0}}, {shape_text}, {{1}}{eps})", (x, w), op)
    return g.add(f"F.{op}({{0}}, {shape_text}{eps})", (x,), op)


def _image(g, spatial: int) -> str:
    """A float tensor shaped (N, C, *spatial) whose C and spatial dims do not vary."""
    rank = spatial + 2

    def ok(n: str) -> bool:
        return g.ndim(n) == rank and not (g.varying(n) - {0}) and all(s > 0 for s in g.shape(n)[1:])

    x = g.pick_float(rank, rank, pred=ok, new=0.3)
    if not ok(x):
        x = g.new_input(
            g.float_dtype(),
            (2, g.choice((1, 2, 3))) + tuple(g.choice((3, 4, 5, 6)) for _ in range(spatial)),
            batch=True,
        )
    return x


@register("nn", 1.2)
def batch_norm(g) -> bool:
    x = _image(g, g.choice((0, 1, 2)))
    c = g.shape(x)[1]
    dtype = g.dtype(x)
    mean = g.new_input(dtype, (c,))
    var = g.new_input(dtype, (c,), draw="unit")
    args = [x, mean, var]
    text = "F.batch_norm({0}, {1}, {2}"
    if g.coin(0.6):
        args += [g.new_input(dtype, (c,)), g.new_input(dtype, (c,))]
        text += ", {3}, {4}"
    training = g.coin(0.5)
    text += f", training={training}, momentum=0.2)" if training else ")"
    return g.add(text, tuple(args), "batch_norm")


@register("nn", 0.8)
def group_norm(g) -> bool:
    x = _image(g, g.choice((1, 2)))
    c = g.shape(x)[1]
    groups = g.choice([d for d in range(1, c + 1) if c % d == 0])
    if g.coin(0.5):
        w = g.new_input(g.dtype(x), (c,))
        b = g.new_input(g.dtype(x), (c,))
        return g.add(f"F.group_norm({{0}}, {groups}, {{1}}, {{2}})", (x, w, b), "group_norm")
    return g.add(f"F.group_norm({{0}}, {groups})", (x,), "group_norm")


def _conv_options(g, spatial: int, transpose: bool) -> tuple[str, int]:
    k = g.choice((1, 2, 3))
    stride = g.choice((1, 1, 2))
    padding = int(g.rng.integers(0, k // 2 + 1 + (0 if transpose else 1)))
    dilation = g.choice((1, 1, 2))
    text = f", stride={stride}" if stride != 1 else ""
    if padding:
        text += f", padding={padding}"
    if transpose and stride > 1 and g.coin(0.4):
        text += ", output_padding=1"
    if dilation != 1:
        text += f", dilation={dilation}"
    return text, k


@register("nn", 2.0)
def conv(g) -> bool:
    spatial = g.choice((1, 2, 2))
    transpose = g.coin(0.25)
    x = _image(g, spatial)
    c = g.shape(x)[1]
    dtype = g.dtype(x)
    groups = g.choice([d for d in (1, 2, 3) if c % d == 0]) if g.coin(0.3) else 1
    out = groups * g.choice((1, 2, 3))
    options, k = _conv_options(g, spatial, transpose)
    if groups != 1:
        options += f", groups={groups}"
    kernel = (k,) * spatial if g.coin(0.7) else tuple(g.choice((1, 2, 3)) for _ in range(spatial))
    w_shape = (c, out // groups) + kernel if transpose else (out, c // groups) + kernel
    w = g.new_input(dtype, w_shape)
    name = f"conv_transpose{spatial}d" if transpose else f"conv{spatial}d"
    if g.coin(0.6):
        b = g.new_input(dtype, (out,))
        return g.add(f"F.{name}({{0}}, {{1}}, {{2}}{options})", (x, w, b), name)
    return g.add(f"F.{name}({{0}}, {{1}}{options})", (x, w), name)


@register("nn", 2.0)
def pool(g) -> bool:
    spatial = g.choice((1, 2, 2))
    x = _image(g, spatial)
    size = min(g.shape(x)[2:])
    kind = g.choice(("max", "avg", "adaptive_avg", "adaptive_max"))
    if kind.startswith("adaptive"):
        if kind == "adaptive_max" and spatial == 1:
            kind = "adaptive_avg"
        out = g.choice((1, 2, 3)) if spatial == 1 else (g.choice((1, 2, 3)), g.choice((1, 2)))
        return g.add(f"F.{kind}_pool{spatial}d({{0}}, {out})", (x,), f"{kind}_pool{spatial}d")
    k = int(g.rng.integers(1, min(size, 3) + 1))
    stride = g.choice((None, 1, 2))
    padding = int(g.rng.integers(0, k // 2 + 1))
    text = f"F.{kind}_pool{spatial}d({{0}}, {k}"
    if stride is not None:
        text += f", stride={stride}"
    if padding:
        text += f", padding={padding}"
    if g.coin(0.2):
        text += ", ceil_mode=True"
    if kind == "avg" and g.coin(0.3):
        text += ", count_include_pad=False"
    return g.add(text + ")", (x,), f"{kind}_pool{spatial}d")


@register("nn", 1.5)
def embedding(g) -> bool:
    num = g.choice((3, 5, 7))
    weight = g.pick(lambda n: g.is_float(n) and g.ndim(n) == 2 and not g.varying(n) and g.shape(n)[0] > 0)
    if weight is None or g.coin(0.5):
        weight = g.new_input(g.float_dtype(), (num, g.choice((1, 2, 4))))
    num = g.shape(weight)[0]
    idx = g.pick(lambda n: (g.bounds.get(n) or (-1, 0))[0] >= 0 and (g.bounds.get(n) or (0, 99))[1] <= num)
    if idx is None or g.coin(0.4):
        idx = g.new_input(
            "int64", g.random_shape(int(g.rng.integers(0, 3))), batch=g.coin(), lo=0, hi=num, draw="int"
        )
    extra = f", padding_idx={g.choice((0, num - 1))}" if g.coin(0.3) else ""
    return g.add(f"F.embedding({{0}}, {{1}}{extra})", (idx, weight), "embedding")


REDUCTIONS = ("", ", reduction='sum'", ", reduction='none'", ", reduction='mean'")


@register("loss", 2.5)
def regression_loss(g) -> bool:
    a = g.pick_float()
    b = g.pick(
        lambda n: (
            n != a
            and g.dtype(n) == g.dtype(a)
            and g.shape(n, 0) == g.shape(a, 0)
            and g.shape(n, 1) == g.shape(a, 1)
        )
    )
    if b is None:
        if g.varying(a) - {0}:
            return False
        b = g.new_input(g.dtype(a), g.shape(a), batch=0 in g.varying(a))
    op = g.choice(("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "soft_margin_loss"))
    extra = {"smooth_l1_loss": g.choice(("", ", beta=0.5")), "huber_loss": g.choice(("", ", delta=2.0"))}.get(
        op, ""
    )
    return g.add(f"F.{op}({{0}}, {{1}}{g.choice(REDUCTIONS)}{extra})", (a, b), op)


@register("loss", 1.5)
def binary_loss(g) -> bool:
    a = g.pick_float()
    if g.varying(a) - {0}:
        return False
    target = g.new_input(g.dtype(a), g.shape(a), batch=0 in g.varying(a), draw="unit")
    if g.coin(0.5):
        return g.add(
            f"F.binary_cross_entropy(torch.sigmoid({{0}}), {{1}}{g.choice(REDUCTIONS)})",
            (a, target),
            "binary_cross_entropy",
        )
    if g.coin(0.3) and g.ndim(a) >= 1 and g.shape(a)[-1] > 0 and g.ndim(a) - 1 not in g.varying(a):
        pw = g.new_input(g.dtype(a), (g.shape(a)[-1],), draw="unit")
        return g.add(
            "F.binary_cross_entropy_with_logits({0}, {1}, pos_weight={2})",
            (a, target, pw),
            "binary_cross_entropy_with_logits",
        )
    return g.add(
        f"F.binary_cross_entropy_with_logits({{0}}, {{1}}{g.choice(REDUCTIONS)})",
        (a, target),
        "binary_cross_entropy_with_logits",
    )


@register("loss", 3.0)
def classification_loss(g) -> bool:
    x = g.pick_float(1, 3, pred=lambda n: 1 not in g.varying(n) and g.ndim(n) != 1 or not g.varying(n))
    shape = g.shape(x)
    c_axis = 0 if len(shape) == 1 else 1
    c = shape[c_axis]
    if c == 0 or g.varying(x) - {0}:
        return False
    t_shape = shape[:c_axis] + shape[c_axis + 1 :]
    batch = 0 in g.varying(x)
    extra = ""
    if g.coin(0.25):
        extra += ", label_smoothing=0.1"
    if g.coin(0.2):
        extra += ", weight={2}"
    op = g.choice(("cross_entropy", "cross_entropy", "cross_entropy_probs", "nll_loss"))
    if op == "cross_entropy_probs":
        target = g.new_input(g.dtype(x), shape, batch=batch, draw="unit")
        template = f"F.cross_entropy({{0}}, {{1}}{extra}{g.choice(REDUCTIONS)})"
    else:
        ignore = g.coin(0.25)
        target = g.new_input("int64", t_shape, batch=batch, lo=-1 if ignore else 0, hi=c, draw="int")
        if ignore:
            extra += ", ignore_index=-1"
        base = (
            "F.cross_entropy({0}" if op == "cross_entropy" else f"F.nll_loss(F.log_softmax({{0}}, {c_axis})"
        )
        template = base + f", {{1}}{extra}{g.choice(REDUCTIONS)})"
    args = [x, target]
    if "{2}" in template:
        args.append(g.new_input(g.dtype(x), (c,), draw="unit"))
    return g.add(template, tuple(args), op)


@register("loss", 1.0)
def distribution_loss(g) -> bool:
    a = g.pick_float(1, 3)
    if g.varying(a) - {0}:
        return False
    b = g.new_input(g.dtype(a), g.shape(a), batch=0 in g.varying(a))
    op = g.choice(
        ("kl_div", "cosine_similarity", "pairwise_distance", "margin_ranking_loss", "poisson_nll_loss")
    )
    template = {
        "kl_div": "F.kl_div(F.log_softmax({0}, -1), F.softmax({1}, -1), reduction='batchmean')",
        "cosine_similarity": "F.cosine_similarity({0}, {1}, dim=-1)",
        "pairwise_distance": "F.pairwise_distance({0}, {1})",
        "margin_ranking_loss": "F.margin_ranking_loss({0}, {1}, torch.sign({1}), margin=0.1)",
        "poisson_nll_loss": "F.poisson_nll_loss({0}, {1}.abs())",
    }[op]
    return g.add(template, (a, b), op)


@register("nn", 0.8)
def attention(g) -> bool:
    q = g.pick_float(3, 4, pred=lambda n: not (g.varying(n) - {0}) and all(s > 0 for s in g.shape(n)))
    shape = g.shape(q)
    batch = 0 in g.varying(q)
    s = g.choice((1, 2, 3))
    k = g.new_input(g.dtype(q), shape[:-2] + (s, shape[-1]), batch=batch)
    v = g.new_input(g.dtype(q), shape[:-2] + (s, g.choice((1, 2, 3))), batch=batch)
    causal = ", is_causal=True" if g.coin(0.3) else ""
    return g.add(
        f"F.scaled_dot_product_attention({{0}}, {{1}}, {{2}}{causal})",
        (q, k, v),
        "scaled_dot_product_attention",
    )


@register("random", 1.0)
def random_op(g) -> bool:
    x = g.pick_float()
    op = g.choice(("dropout", "dropout", "randn_like", "rand_like"))
    template = {
        "dropout": g.choice(
            (
                "F.dropout({0}, p=0.3)",
                "F.dropout({0}, 0.5, training=True)",
                "F.dropout({0}, p=0.2, training=False)",
            )
        ),
        "randn_like": "{0} + torch.randn_like({0})",
        "rand_like": "torch.rand_like({0}) * {0}",
    }[op]
    names = g.emit(template, (x,), op)
    if names:
        g.uses_rng = True
    return names is not None
