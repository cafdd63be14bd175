"""In-place generators on intermediates (and, in programs without autograd, on inputs):
add_/sub_/mul_/div_/clamp_/masked_fill_/zero_/fill_/copy_/relu_..., augmented
assignment and ``x[index] = value``."""

from __future__ import annotations

from ...tensor_ops.writes import repeats_elements
from .catalog import register
from .ops_index import basic_index
from .ops_pointwise import broadcastable, partner

INPLACE_BINARY = {
    "add_": ("{0}.add_({1})", "{0}.add_({1}, alpha=-2)"),
    "sub_": ("{0}.sub_({1})",),
    "mul_": ("{0}.mul_({1})",),
    "div_": ("{0}.div_({1}.abs() + 1)",),
    "maximum_": ("{0}.copy_(torch.maximum({0}, {1}))",),
    "copy_": ("{0}.copy_({1})",),
    "lerp_": ("{0}.lerp_({1}, 0.5)",),
    "addcmul_": ("{0}.addcmul_({1}, {1}, value=0.5)",),
}
INPLACE_UNARY = {
    "clamp_": ("{0}.clamp_(-1, 1)", "{0}.clamp_(min=0)", "{0}.clamp_(max=0.5)"),
    "zero_": ("{0}.zero_()",),
    "fill_": ("{0}.fill_(1.5)", "{0}.fill_(-2)"),
    "relu_": ("{0}.relu_()", "F.relu_({0})", "F.relu({0}, inplace=True)"),
    "sigmoid_": ("{0}.sigmoid_()",),
    "exp_": ("{0}.exp_()",),
    "neg_": ("{0}.neg_()",),
    "mul_scalar_": ("{0}.mul_(2)", "{0}.div_(4)", "{0}.add_(1)", "{0}.sub_(0.5)", "{0}.pow_(2)"),
    "leaky_relu_": ("F.leaky_relu({0}, 0.1, inplace=True)",),
}
AUGMENTED = ("+=", "-=", "*=")


def target(g, elementwise: bool = False) -> str | None:
    """A tensor an in-place op may write: an intermediate, or any tensor without autograd.

    An ``elementwise`` write (``add_``, ``x += y``) skips tensors whose elements share
    memory: PyTorch raises for an expanded one, as irgrad does, and writes overlapping
    ``unfold`` windows in its loop's order, which irgrad refuses (a documented
    difference, not a defect to report each run)."""
    inputs = {i.name for i in g.inputs}
    return g.pick(
        lambda n: (
            (n not in inputs or not g.grad) and not (elementwise and repeats_elements(g.envs[0][n]._data))
        )
    )


@register("inplace", 3.0)
def inplace_binary(g) -> bool:
    x = target(g, elementwise=True)
    if x is None:
        return False
    op = g.choice(sorted(INPLACE_BINARY))
    other, scalar = partner(g, x, g.dtype(x), scalar=0.25 if op in ("add_", "sub_", "mul_") else 0.0)
    template = g.choice(INPLACE_BINARY[op])
    if other is None:
        return g.add(template.replace("{1}", scalar), (x,), op)
    return g.add(template, (x, other), op)


@register("inplace", 2.5)
def inplace_unary(g) -> bool:
    x = target(g, elementwise=True)
    if x is None:
        return False
    op = g.choice(sorted(INPLACE_UNARY))
    return g.add(g.choice(INPLACE_UNARY[op]), (x,), op)


@register("inplace", 1.5)
def augmented(g) -> bool:
    x = target(g, elementwise=True)
    if x is None:
        return False
    other, scalar = partner(g, x, g.dtype(x), scalar=0.4)
    op = g.choice(AUGMENTED)
    if other is None:
        return g.add(f"{{0}} {op} {scalar}", (x,), "augmented" + op[0], n_out=0)
    return g.add(f"{{0}} {op} {{1}}", (x, other), "augmented" + op[0], n_out=0)


@register("inplace", 1.5)
def masked_fill_(g) -> bool:
    x = target(g)
    if x is None:
        return False
    mask = g.pick(lambda n: g.dtype(n) == "bool" and broadcastable(g, x, n) and len(g.shape(n)) <= g.ndim(x))
    if mask is None:
        return False
    value = g.choice(("0.0", "1", "-3.5")) if g.is_float(x) else "1"
    return g.add(f"{{0}}.masked_fill_({{1}}, {value})", (x, mask), "masked_fill_")


@register("inplace", 2.0)
def setitem(g) -> bool:
    x = target(g)
    if x is None or g.ndim(x) == 0:
        return False
    index = basic_index(g, x)
    if index is None:
        return False
    if g.coin(0.5):
        value = g.choice(("0.0", "1", "-2.5")) if g.is_float(x) else "1"
        return g.add(f"{{0}}[{index}] = {value}", (x,), "setitem", n_out=0)
    source = g.pick(lambda n: n != x and g.ndim(n) <= 2 and g.numel(n) <= 4 and not g.varying(n))
    if source is None:
        return False
    return g.add(f"{{0}}[{index}] = {{1}}", (x, source), "setitem", n_out=0)


@register("inplace", 0.5)
def setitem_mask(g) -> bool:
    x = target(g)
    if x is None or g.ndim(x) == 0:
        return False
    mask = g.pick(
        lambda n: g.dtype(n) == "bool" and g.shape(n, 0) == g.shape(x, 0) and g.shape(n, 1) == g.shape(x, 1)
    )
    if mask is None:
        return False
    return g.add("{0}[{1}] = 0", (x, mask), "setitem_mask", n_out=0)
