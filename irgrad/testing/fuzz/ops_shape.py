"""Shape and view generators: view/reshape/flatten/unflatten/squeeze/unsqueeze,
permute/transpose/movedim, expand/broadcast_to/repeat/tile, flip/roll, narrow/select,
cat/stack, split/chunk/unbind/tensor_split, tril/triu, clone/contiguous/detach.

Sizes that depend on the batch are written as ``-1`` (or left to the tensor), so a
program stays valid at another batch size; the generation context rejects the rest.
"""

from __future__ import annotations

import math

from .catalog import register


def _factor(g, n: int, k: int) -> list[int]:
    """``n`` split into ``k`` random factors."""
    factors = [1] * k
    if k == 0:
        return factors
    p, m = 2, n
    primes = []
    while m > 1 and p * p <= m:
        while m % p == 0:
            primes.append(p)
            m //= p
        p += 1
    if m > 1:
        primes.append(m)
    for q in primes:
        factors[int(g.rng.integers(k))] *= q
    return factors


def new_shape(g, x: str) -> list[str] | None:
    """A shape with the same number of elements as ``x`` (at both batch sizes), as texts."""
    shape = g.shape(x)
    varying = g.varying(x)
    if len(varying) > 1:
        return None
    fixed = math.prod(s for i, s in enumerate(shape) if i not in varying)
    if fixed == 0:
        dims = [str(g.choice((1, 2, 3))) for _ in range(int(g.rng.integers(0, 3)))]
        dims.insert(int(g.rng.integers(len(dims) + 1)), "0")
        return dims
    k = int(g.rng.integers(0 if fixed == 1 and not varying else 1, 4))
    dims = [str(f) for f in _factor(g, fixed, k)]
    if varying:
        dims.insert(int(g.rng.integers(len(dims) + 1)), "-1")
    elif dims and g.coin(0.3):
        dims[int(g.rng.integers(len(dims)))] = "-1"
    return dims


def _tuple(texts: list[str]) -> str:
    return "(" + ", ".join(texts) + ("," if len(texts) == 1 else "") + ")"


@register("shape", 4.0)
def reshape(g) -> bool:
    x = g.pick()
    if x is None:
        return False
    dims = new_shape(g, x)
    if dims is None:
        return False
    op = g.choice(("view", "reshape"))
    forms = (f"{{0}}.{op}({', '.join(dims)})", f"{{0}}.{op}({_tuple(dims)})")
    if op == "reshape":
        forms += (f"torch.reshape({{0}}, {_tuple(dims)})",)
    return g.add(g.choice(forms), (x,), op)


@register("shape", 1.5)
def flatten(g) -> bool:
    x = g.pick()
    if x is None:
        return False
    n = g.ndim(x)
    if n < 2 or g.coin(0.3):
        return g.add(g.choice(("{0}.flatten()", "torch.flatten({0})")), (x,), "flatten")
    start = int(g.rng.integers(0, n - 1))
    end = int(g.rng.integers(start + 1, n))
    return g.add(f"torch.flatten({{0}}, {start}, {end - n if g.coin(0.5) else end})", (x,), "flatten")


@register("shape", 1.0)
def unflatten(g) -> bool:
    x = g.pick(lambda n: 0 < g.ndim(n) < 4 and g.fixed_axes(n))
    if x is None:
        return False
    d = g.axis(g.ndim(x), g.fixed_axes(x))
    size = g.shape(x)[d[0]]
    if size == 0:
        return False
    dims = [str(f) for f in _factor(g, size, 2)]
    if g.coin(0.3):
        dims[0] = "-1"
    return g.add(f"{{0}}.unflatten({d[1]}, {_tuple(dims)})", (x,), "unflatten")


@register("shape", 2.0)
def squeeze_unsqueeze(g) -> bool:
    x = g.pick()
    if x is None:
        return False
    n = g.ndim(x)
    ones = [d for d in g.fixed_axes(x) if g.shape(x)[d] == 1]
    if ones and g.coin(0.5):
        d = g.axis(n, ones)
        return g.add(g.choice((f"{{0}}.squeeze({d[1]})", f"torch.squeeze({{0}}, {d[1]})")), (x,), "squeeze")
    if ones and not g.varying(x) and g.coin(0.2):
        return g.add("{0}.squeeze()", (x,), "squeeze")
    if n >= 4:
        return False
    d = int(g.rng.integers(-n - 1, n + 1))
    return g.add(
        g.choice((f"{{0}}.unsqueeze({d})", f"torch.unsqueeze({{0}}, {d})", "{0}[None]")),
        (x,),
        "unsqueeze",
    )


@register("shape", 2.5)
def permute(g) -> bool:
    x = g.pick(lambda n: g.ndim(n) >= 2)
    if x is None:
        return False
    n = g.ndim(x)
    form = int(g.rng.integers(5))
    if form == 0:
        perm = [int(p) for p in g.rng.permutation(n)]
        return g.add(
            g.choice(
                (
                    f"{{0}}.permute({', '.join(map(str, perm))})",
                    f"torch.permute({{0}}, {_tuple([str(p) for p in perm])})",
                )
            ),
            (x,),
            "permute",
        )
    if form == 1 and n == 2:
        return g.add(g.choice(("{0}.t()", "{0}.T", "torch.t({0})")), (x,), "t")
    if form == 2:
        return g.add("{0}.mT", (x,), "mT")
    a, b = (int(v) for v in g.rng.choice(n, size=2, replace=False))
    if form == 3:
        return g.add(f"torch.movedim({{0}}, {a}, {b - n})", (x,), "movedim")
    return g.add(
        g.choice(
            (
                f"{{0}}.transpose({a}, {b})",
                f"torch.transpose({{0}}, {a - n}, {b})",
                f"{{0}}.swapaxes({a}, {b})",
            )
        ),
        (x,),
        "transpose",
    )


@register("shape", 1.5)
def expand(g) -> bool:
    x = g.pick(lambda n: g.ndim(n) <= 3)
    if x is None:
        return False
    shape = g.shape(x)
    varying = g.varying(x)
    dims = [
        "-1" if (i in varying or s != 1 or g.coin(0.3)) else str(g.choice((2, 3)))
        for i, s in enumerate(shape)
    ]
    lead = [str(g.choice((1, 2))) for _ in range(int(g.rng.integers(0, 2)))]
    dims = lead + dims
    if not dims:
        dims = ["3"]
    op = g.choice(("expand", "broadcast_to"))
    if op == "expand":
        return g.add(f"{{0}}.expand({', '.join(dims)})", (x,), "expand")
    return g.add(f"torch.broadcast_to({{0}}, {_tuple(dims)})", (x,), "broadcast_to")


@register("shape", 1.0)
def repeat(g) -> bool:
    x = g.pick(lambda n: g.ndim(n) <= 3)
    if x is None:
        return False
    n = g.ndim(x)
    reps = [str(g.choice((1, 1, 2, 3))) for _ in range(n + int(g.rng.integers(0, 2)))] or ["2"]
    if g.coin(0.5):
        return g.add(f"{{0}}.repeat({', '.join(reps)})", (x,), "repeat")
    return g.add(f"torch.tile({{0}}, {_tuple(reps)})", (x,), "tile")


@register("shape", 1.0)
def flip_roll(g) -> bool:
    x = g.pick(lambda n: g.ndim(n) >= 1)
    if x is None:
        return False
    d = g.axis(g.ndim(x))
    if g.coin(0.5):
        return g.add(g.choice((f"torch.flip({{0}}, ({d[1]},))", f"{{0}}.flip({d[1]})")), (x,), "flip")
    return g.add(f"torch.roll({{0}}, {int(g.rng.integers(-3, 4))}, {d[1]})", (x,), "roll")


@register("shape", 1.5)
def narrow_select(g) -> bool:
    x = g.pick(lambda n: g.ndim(n) >= 1)
    if x is None:
        return False
    d = g.axis(g.ndim(x))
    size = g.shape(x)[d[0]]
    varying = d[0] in g.varying(x)
    if size == 0:
        return False
    if g.coin(0.5) and not varying:
        start = int(g.rng.integers(0, size))
        length = int(g.rng.integers(0, size - start + 1))
        return g.add(
            g.choice(
                (
                    f"{{0}}.narrow({d[1]}, {start}, {length})",
                    f"torch.narrow({{0}}, {d[1]}, {start}, {length})",
                )
            ),
            (x,),
            "narrow",
        )
    i = g.choice((0, -1)) if varying else int(g.rng.integers(-size, size))
    return g.add(
        g.choice((f"{{0}}.select({d[1]}, {i})", f"torch.select({{0}}, {d[1]}, {i})")), (x,), "select"
    )


@register("shape", 1.0)
def unfold(g) -> bool:
    """Sliding windows: a view whose windows overlap when the step is below the size."""
    x = g.pick(lambda n: g.ndim(n) >= 1)
    if x is None:
        return False
    d = g.axis(g.ndim(x))
    length = g.shape(x)[d[0]]
    if d[0] in g.varying(x):
        return False
    size, step = int(g.rng.integers(0, length + 1)), int(g.rng.integers(1, 4))
    return g.add(f"{{0}}.unfold({d[1]}, {size}, {step})", (x,), "unfold")


def _same_shape(g, x: str, dtype: str | None = None) -> str:
    """An existing tensor with exactly ``x``'s shapes, or a new input like it."""
    found = g.pick(
        lambda n: (
            n != x
            and g.shape(n, 0) == g.shape(x, 0)
            and g.shape(n, 1) == g.shape(x, 1)
            and (dtype is None or g.dtype(n) == dtype)
        )
    )
    if found is not None and g.coin(0.5):
        return found
    varying = g.varying(x)
    if varying - {0}:
        return x  # a batch dim elsewhere than dim 0: only x itself fits
    return g.new_input(dtype or g.dtype(x), g.shape(x), batch=0 in varying)


@register("shape", 2.5)
def cat(g) -> bool:
    x = g.pick(lambda n: g.ndim(n) >= 1)
    if x is None:
        return False
    n = g.ndim(x)
    d = g.axis(n)
    varying = g.varying(x)
    if varying - {0} - {d[0]}:
        return False
    shape = list(g.shape(x))
    shape[d[0]] = g.choice((0, 1, 2, 3))
    batch = 0 in varying and d[0] != 0
    dtype = g.dtype(x) if g.coin(0.85) else g.choice(("float32", "float64", "int64"))
    parts = [x, g.new_input(dtype, tuple(shape), batch=batch)]
    if g.coin(0.3):
        parts.append(x)
    refs = ", ".join(f"{{{i}}}" for i in range(len(parts)))
    fn = g.choice(("torch.cat", "torch.cat", "torch.concat"))
    return g.add(
        f"{fn}([{refs}], dim={d[1]})" if g.coin(0.7) else f"{fn}(({refs}), {d[1]})", tuple(parts), "cat"
    )


@register("shape", 1.5)
def stack(g) -> bool:
    x = g.pick(lambda n: g.ndim(n) <= 3)
    if x is None:
        return False
    parts = [x, _same_shape(g, x)]
    if g.coin(0.3):
        parts.append(_same_shape(g, x))
    n = g.ndim(x)
    d = int(g.rng.integers(-n - 1, n + 1))
    refs = ", ".join(f"{{{i}}}" for i in range(len(parts)))
    return g.add(
        f"torch.stack(({refs}), {d})" if g.coin(0.5) else f"torch.stack([{refs}], dim={d})",
        tuple(parts),
        "stack",
    )


@register("shape", 2.0)
def split(g) -> bool:
    x = g.pick(lambda n: g.ndim(n) >= 1 and g.fixed_axes(n))
    if x is None:
        return False
    d = g.axis(g.ndim(x), g.fixed_axes(x))
    s = g.shape(x)[d[0]]
    if s == 0:
        return False
    form = g.choice(("split", "split_sizes", "chunk", "unbind", "tensor_split"))
    if form == "split":
        k = int(g.rng.integers(1, s + 1))
        count = math.ceil(s / k)
        template = g.choice((f"torch.split({{0}}, {k}, dim={d[1]})", f"{{0}}.split({k}, {d[1]})"))
    elif form == "split_sizes":
        first = int(g.rng.integers(0, s + 1))
        sizes = [first, s - first]
        count = 2
        template = f"torch.split({{0}}, [{sizes[0]}, {sizes[1]}], dim={d[1]})"
    elif form == "chunk":
        k = int(g.rng.integers(1, 4))
        c = math.ceil(s / k)
        count = math.ceil(s / c)
        template = g.choice((f"torch.chunk({{0}}, {k}, dim={d[1]})", f"{{0}}.chunk({k}, {d[1]})"))
    elif form == "unbind":
        if s > 4:
            return False
        count = s
        template = f"torch.unbind({{0}}, {d[1]})"
    else:
        count = int(g.rng.integers(1, 4))
        template = f"torch.tensor_split({{0}}, {count}, dim={d[1]})"
    if count > 4:
        return False
    names = g.emit(template, (x,), form, n_out=count)
    return names is not None


@register("shape", 0.7)
def tril_triu(g) -> bool:
    x = g.pick(lambda n: g.ndim(n) >= 2)
    if x is None:
        return False
    op = g.choice(("tril", "triu"))
    k = int(g.rng.integers(-1, 2))
    return g.add(g.choice((f"torch.{op}({{0}}, {k})", f"{{0}}.{op}()")), (x,), op)


@register("shape", 1.5)
def copy_like(g) -> bool:
    x = g.pick()
    if x is None:
        return False
    op = g.choice(("clone", "contiguous", "detach", "zeros_like", "ones_like", "full_like", "new_zeros"))
    template = {
        "clone": "{0}.clone()",
        "contiguous": "{0}.contiguous()",
        "detach": "{0}.detach()",
        "zeros_like": "torch.zeros_like({0})",
        "ones_like": "torch.ones_like({0})",
        "full_like": "torch.full_like({0}, 2.5)",
        "new_zeros": "{0}.new_zeros((2, 1))",
    }[op]
    return g.add(template, (x,), op)
