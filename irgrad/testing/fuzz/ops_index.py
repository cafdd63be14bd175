"""Indexing generators: ``x[...]`` with slices, ints, None and Ellipsis, integer-tensor
and boolean-mask indexing, index_select, gather, take_along_dim, masked_fill,
masked_select, scatter_add, one_hot."""

from __future__ import annotations

from .catalog import register
from .ops_pointwise import broadcastable, partner_shape


def basic_index(g, x: str) -> str | None:
    """Text of a basic index (slices, ints, None, ...) valid for ``x`` at both batch sizes."""
    shape = g.shape(x)
    varying = g.varying(x)
    items: list[str] = []
    consumed = 0
    ellipsis_at = int(g.rng.integers(0, len(shape) + 1)) if g.coin(0.25) else None
    for d, size in enumerate(shape):
        if d == ellipsis_at:
            items.append("...")
            break
        r = g.rng.random()
        if r < 0.12 and len(items) < 5:
            items.append("None")
        if d in varying:
            items.append(g.choice((":", ":", "0", "-1", "1:", ":-1", "::2")))
        elif size == 0 or r < 0.35:
            items.append(":")
        elif r < 0.55:
            items.append(str(int(g.rng.integers(-size, size))))
        else:
            start = int(g.rng.integers(-size - 1, size + 1))
            stop = int(g.rng.integers(-size - 1, size + 2))
            step = g.choice((1, 1, 2, 3))
            lo = "" if g.coin(0.3) else str(start)
            hi = "" if g.coin(0.3) else str(stop)
            items.append(f"{lo}:{hi}" + (f":{step}" if step != 1 else ""))
        consumed += 1
    while items and items[-1] == ":" and g.coin(0.7):
        items.pop()
    if g.coin(0.1):
        items.append("None")
    if not items:
        return None
    return ", ".join(items)


@register("index", 4.0)
def getitem(g) -> bool:
    x = g.pick()
    if x is None or g.ndim(x) == 0 and g.coin(0.5):
        return False
    index = basic_index(g, x) if g.ndim(x) else g.choice(("None", "...", "None, ..."))
    if index is None:
        return False
    return g.add(f"{{0}}[{index}]", (x,), "getitem")


@register("index", 2.0)
def index_tensor(g) -> bool:
    """Advanced indexing with integer tensors (one or two, with slices around)."""
    x = g.pick(lambda n: g.ndim(n) >= 1 and g.fixed_axes(n))
    if x is None:
        return False
    n = g.ndim(x)
    fixed = g.fixed_axes(x)
    d = g.choice(fixed)
    idx_shape = g.random_shape(int(g.rng.integers(0, 3)), zero=0.05)
    idx = g.index_for(g.shape(x)[d], idx_shape, negative=g.coin(0.2))
    if idx is None:
        return False
    args = [x, idx]
    items = [":"] * d + ["{1}"]
    others = [e for e in fixed if e != d]
    if others and g.coin(0.3):
        e = g.choice(others)
        idx2 = g.index_for(g.shape(x)[e], idx_shape)
        if idx2 is None:
            return False
        items = [":"] * n
        items[d] = "{1}"
        items[e] = "{2}"
        args.append(idx2)
        while items[-1] == ":":
            items.pop()
    return g.add("{0}[" + ", ".join(items) + "]", tuple(args), "index_tensor")


@register("index", 1.5)
def index_mask(g) -> bool:
    x = g.pick(lambda n: g.ndim(n) >= 1)
    if x is None:
        return False
    k = int(g.rng.integers(1, g.ndim(x) + 1))
    shape = g.shape(x)[:k]
    mask = g.pick(
        lambda n: g.dtype(n) == "bool" and g.shape(n, 0) == shape and g.shape(n, 1) == g.shape(x, 1)[:k]
    )
    if mask is None:
        mask = g.new_input("bool", shape, batch=0 in g.varying(x))
    form = g.choice(("{0}[{1}]", "{0}[{1}]", "torch.masked_select({0}, {1})"))
    return g.add(form, (x, mask), "index_mask" if "[" in form else "masked_select")


@register("index", 1.5)
def index_select(g) -> bool:
    x = g.pick(lambda n: g.ndim(n) >= 1 and g.fixed_axes(n))
    if x is None:
        return False
    d = g.axis(g.ndim(x), g.fixed_axes(x))
    idx = g.index_for(g.shape(x)[d[0]], (int(g.rng.integers(0, 5)),))
    if idx is None:
        return False
    return g.add(
        g.choice((f"torch.index_select({{0}}, {d[1]}, {{1}})", f"{{0}}.index_select({d[1]}, {{1}})")),
        (x, idx),
        "index_select",
    )


def _along(g, pred) -> tuple | None:
    """A tensor ``x`` without batch dims, an axis of it and a random index shape for gather/scatter.

    The index may be smaller than ``x`` in every dim but the axis (PyTorch's rule)."""
    x = g.pick(lambda n: g.ndim(n) >= 1 and not g.varying(n) and pred(n))
    if x is None:
        return None
    shape = g.shape(x)
    d = g.axis(len(shape))
    if shape[d[0]] == 0:
        return None
    index_shape = tuple(
        int(g.rng.integers(0, s + 1)) if i != d[0] else g.choice((1, 2, 3)) for i, s in enumerate(shape)
    )
    return x, d, index_shape


@register("index", 1.5)
def gather(g) -> bool:
    found = _along(g, lambda n: True)
    if found is None:
        return False
    x, d, index_shape = found
    size = g.shape(x)[d[0]]
    if g.coin(0.3):  # take_along_dim broadcasts the index against x instead
        index_shape = tuple(s if i != d[0] else g.choice((1, 2)) for i, s in enumerate(g.shape(x)))
        return g.add(
            f"torch.take_along_dim({{0}}, {{1}}, dim={d[1]})",
            (x, g.index_for(size, index_shape)),
            "take_along_dim",
        )
    templates = (f"torch.gather({{0}}, {d[1]}, {{1}})", f"{{0}}.gather({d[1]}, {{1}})")
    return g.add(g.choice(templates), (x, g.index_for(size, index_shape)), "gather")


@register("index", 2.0)
def masked_fill(g) -> bool:
    x = g.pick()
    if x is None:
        return False
    mask = g.pick(lambda n: g.dtype(n) == "bool" and broadcastable(g, x, n))
    if mask is None or g.coin(0.4):
        shape, batch = partner_shape(g, x)
        if len(shape) > g.ndim(x):
            shape = shape[len(shape) - g.ndim(x) :]
            batch = False
        mask = g.new_input("bool", shape, batch=batch)
    value = (
        g.choice(("0.0", "1", "-1.5", "float('-inf')", "float('nan')"))
        if g.is_float(x)
        else g.choice(("0", "1"))
    )
    return g.add(
        g.choice((f"{{0}}.masked_fill({{1}}, {value})", f"torch.masked_fill({{0}}, {{1}}, {value})")),
        (x, mask),
        "masked_fill",
    )


@register("index", 1.0)
def scatter_add(g) -> bool:
    found = _along(g, g.is_float)
    if found is None:
        return False
    x, d, src_shape = found
    idx = g.index_for(g.shape(x)[d[0]], src_shape)
    src = g.new_input(g.dtype(x), src_shape)
    op = g.choice(("scatter_add", "scatter"))
    return g.add(f"torch.{op}({{0}}, {d[1]}, {{1}}, {{2}})", (x, idx, src), op)


@register("index", 0.8)
def one_hot(g) -> bool:
    classes = g.choice((2, 3, 5))
    idx = g.pick(
        lambda n: (
            g.bounds.get(n, (-1, 99))[0] >= 0 and g.bounds.get(n, (0, 99))[1] <= classes and g.ndim(n) <= 3
        )
    )
    if idx is None:
        idx = g.new_input(
            "int64", g.random_shape(int(g.rng.integers(0, 3))), batch=g.coin(), lo=0, hi=classes, draw="int"
        )
    return g.add(f"F.one_hot({{0}}, {classes})", (idx,), "one_hot")
