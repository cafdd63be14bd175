"""Reduction generators: sum/mean/prod/var/std/norm/amax/amin/logsumexp over dim tuples
with keepdim, max/min with indices, argmax/argmin, all/any/count_nonzero, cumsum."""

from __future__ import annotations

from .catalog import register

FLOAT_REDUCTIONS = ("sum", "mean", "prod", "amax", "amin", "var", "std", "logsumexp", "norm", "nansum_like")
NEEDS_ELEMENTS = {"amax", "amin", "max", "min", "argmax", "argmin"}  # an empty reduction raises


def dims_text(g, name: str, allow_none: bool = True, max_dims: int = 3):
    """(reduced axes, text of the dim argument or None for a full reduction)."""
    ndim = g.ndim(name)
    if ndim == 0 or (allow_none and g.coin(0.2)):
        return list(range(ndim)), None
    k = int(g.rng.integers(1, min(ndim, max_dims) + 1))
    axes = sorted(int(a) for a in g.rng.choice(ndim, size=k, replace=False))
    texts = [str(a - ndim) if g.coin(0.3) else str(a) for a in axes]
    if k == 1 and g.coin(0.6):
        return axes, texts[0]
    return axes, "(" + ", ".join(texts) + ("," if k == 1 else "") + ")"


def _nonempty(g, name: str, axes: list[int]) -> bool:
    return all(g.shape(name, env)[a] > 0 for env in (0, 1) for a in axes)


@register("reduce", 5.0)
def reduce_float(g) -> bool:
    op = g.choice(FLOAT_REDUCTIONS)
    x = g.pick_float()
    axes, dim = dims_text(g, x, allow_none=op != "logsumexp")
    if op in NEEDS_ELEMENTS and not _nonempty(g, x, axes):
        return False
    keep = g.coin(0.4)
    extra = ", keepdim=True" if keep else ""
    if op in ("sum", "mean", "prod") and g.coin(0.15):
        extra += ", dtype=torch.float64"
    if op in ("var", "std"):
        extra += g.choice(("", ", correction=0", ", unbiased=False", ", correction=2"))
    if op == "norm":
        extra += g.choice(("", ", p=1", ", p=3"))
    name = "sum" if op == "nansum_like" else op
    if dim is None:
        if op == "logsumexp" or keep or "dtype" in extra and op == "prod":
            return False
        template = g.choice((f"torch.{name}({{0}}{extra})", f"{{0}}.{name}({extra.lstrip(', ')})"))
        if op == "nansum_like":
            template = "torch.where(torch.isnan({0}), 0.0, {0}).sum()"
    elif op == "prod" and "(" in dim:
        return False  # prod takes one dim, as in PyTorch
    else:
        template = g.choice((f"torch.{name}({{0}}, dim={dim}{extra})", f"{{0}}.{name}({dim}{extra})"))
        if op == "nansum_like":
            template = f"torch.where(torch.isnan({{0}}), 0.0, {{0}}).sum({dim}{extra})"
    return g.add(template, (x,), op)


@register("reduce", 1.5)
def max_min_dim(g) -> bool:
    x = g.pick(lambda n: g.dtype(n) != "bool" and g.ndim(n) > 0)
    if x is None:
        return False
    d = g.axis(g.ndim(x))
    if d is None or not _nonempty(g, x, [d[0]]):
        return False
    op = g.choice(("max", "min"))
    keep = ", keepdim=True" if g.coin(0.3) else ""
    template = g.choice((f"torch.{op}({{0}}, dim={d[1]}{keep})", f"{{0}}.{op}({d[1]}{keep})"))
    names = g.emit(template, (x,), f"{op}_dim", n_out=2)
    if names and d[0] not in g.varying(x):
        g.bounds[names[1]] = (0, g.shape(x)[d[0]])
    return names is not None


@register("reduce", 1.0)
def max_min_all(g) -> bool:
    x = g.pick(lambda n: g.dtype(n) != "bool" and g.numel(n) > 0)
    if x is None:
        return False
    op = g.choice(("max", "min"))
    return g.add(g.choice((f"torch.{op}({{0}})", f"{{0}}.{op}()")), (x,), f"{op}_all")


@register("reduce", 1.5)
def argmax(g) -> bool:
    x = g.pick(lambda n: g.dtype(n) != "bool" and g.numel(n) > 0)
    if x is None:
        return False
    op = g.choice(("argmax", "argmin"))
    if g.ndim(x) == 0 or g.coin(0.25):
        if g.varying(x):
            return False
        names = g.emit(f"torch.{op}({{0}})", (x,), op)
        size = g.numel(x)
    else:
        d = g.axis(g.ndim(x))
        if not _nonempty(g, x, [d[0]]):
            return False
        keep = ", keepdim=True" if g.coin(0.3) else ""
        names = g.emit(
            g.choice((f"torch.{op}({{0}}, dim={d[1]}{keep})", f"{{0}}.{op}({d[1]}{keep})")), (x,), op
        )
        size = g.shape(x)[d[0]] if d[0] not in g.varying(x) else None
    if names and size:
        g.bounds[names[0]] = (0, size)
    return names is not None


@register("reduce", 1.2)
def bool_reduce(g) -> bool:
    x = g.pick(lambda n: g.dtype(n) == "bool") or g.pick()
    if x is None:
        return False
    op = g.choice(("all", "any", "count_nonzero", "sum"))
    axes, dim = dims_text(g, x, max_dims=1 if op in ("all", "any") else 3)
    if dim is None:
        return g.add(f"torch.{op}({{0}})", (x,), f"{op}_bool")
    if "(" in dim and op in ("all", "any"):
        return False
    keep = ", keepdim=True" if op != "count_nonzero" and g.coin(0.3) else ""
    return g.add(f"torch.{op}({{0}}, dim={dim}{keep})", (x,), f"{op}_bool")


@register("reduce", 1.2)
def cumsum(g) -> bool:
    x = g.pick(lambda n: g.dtype(n) != "bool") or g.pick_float()
    d = g.axis(g.ndim(x)) or (0, "0")
    dtype = ", dtype=torch.float64" if g.coin(0.15) else ""
    return g.add(
        g.choice((f"torch.cumsum({{0}}, dim={d[1]}{dtype})", f"{{0}}.cumsum({d[1]}{dtype})")),
        (x,),
        "cumsum",
    )
