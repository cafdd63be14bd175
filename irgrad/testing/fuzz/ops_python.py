"""Generators where Python reads tensor values or sizes: ``.item()``, ``float()``,
data-dependent conditionals (graph breaks for a tracer) and sizes read from shapes."""

from __future__ import annotations

from .catalog import register


@register("python", 0.6)
def item(g) -> bool:
    x = g.pick(lambda n: g.numel(n) > 0 and g.dtype(n) != "bool")
    if x is None:
        return False
    template = g.choice(
        (
            "float({0}.sum())",
            "{0}.mean().item()" if g.is_float(x) else "{0}.sum().item()",
            "{0}.flatten()[0].item()",
        )
    )
    return g.add(template, (x,), "item", scalar=True)


@register("python", 0.5)
def branch(g) -> bool:
    x = g.pick_float()
    c = g.pick(lambda n: g.numel(n) > 0 and g.dtype(n) != "bool") or x
    template = g.choice(
        ("{0} * 2 if {1}.sum() > 0 else {0} - 1", "{0}.relu() if bool(({1} > 0).any()) else -{0}")
    )
    return g.add(template, (x, c), "branch")


@register("python", 0.7)
def size_read(g) -> bool:
    x = g.pick(lambda n: g.ndim(n) >= 2)
    if x is None:
        return False
    template = g.choice(
        (
            "{0}.reshape({0}.shape[0], -1)",
            "{0} / {0}.size(-1)",
            "{0}.view(-1, {0}.shape[-1])",
            "{0} * len({0})",
        )
    )
    return g.add(template, (x,), "size_read")
