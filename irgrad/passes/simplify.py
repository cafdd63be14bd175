"""Algebraic simplification by a table of exact rewrite rules, applied to a fixed point.

Guarantees: every rewrite is exact, its result bit-identical to the original for every
input, including inf, nan and signed zeros (up to NaN payload bits), and it keeps the
rewritten value's type: a rule fires only if its replacement has the very shape and
dtype of the node it replaces (so ``x * 1`` stays when the 1 would broadcast ``x`` to a
larger shape).  Nodes a rewrite leaves unused are removed; nothing else is.

A rule is one line of :data:`RULES`: ``Rule(name, pattern, replacement, when)``.
Patterns are trees of :func:`op` (an op node; its ``attrs`` keywords either must equal
the node's attribute or, as an :class:`Attr`, bind it), :class:`Var` (any value; one name
matches one node; ``Var(name, pattern)`` also names a sub-pattern) and :class:`Const`
(a constant whose every element is bit-identical to the value in the constant's dtype).
A replacement is a Var of the pattern or an :func:`op` template whose attributes are
literals, Attrs, or functions of the :class:`Match`.

Rewrites deliberately left out, because they are not exact for every input:

* ``x * 0 -> 0``: nan * 0 and inf * 0 are nan, and -1 * 0 is -0.0;
* ``x + 0.0 -> x`` for floats: -0.0 + 0.0 is +0.0 (``x + (-0.0)`` and integer ``x + 0``
  are exact and included); likewise ``x - (-0.0)``; ``0 - x -> neg(x)``: 0 - 0 is +0.0;
* ``x - x -> 0``, ``x / x -> 1``: inf and nan;
* ``log(exp(x)) -> x``: exp overflows to inf for large x (log gives inf, not x) and both
  round; ``exp(log(x))``, ``sqrt(x * x) -> abs(x)``, ``reciprocal(reciprocal(x))``: rounding,
  overflow and domain;
* ``neg(sub(a, b)) -> sub(b, a)``: for a == b one side is -0.0, the other +0.0;
* ``cast(cast(x, a), b) -> cast(x, b)`` when ``a`` cannot hold every value of x's dtype
  (int -> float -> int, f64 -> f32 -> f64 round), or when a float ``a`` is converted to an
  integer ``b`` (out-of-range float-to-int conversions differ by source type);
* ``copy(x) -> x``: same values, but copy promises fresh memory (clone), which the layers
  below may rely on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from ..dtypes import FLOAT, INT, dtype
from ..ir.graph import CONSTANT, Graph, TensorType
from ..ops import OPS, Meta
from .dce import prune

__all__ = ["RULES", "Attr", "Const", "Match", "Rule", "Var", "op", "simplify"]


# --- the pattern language ----------------------------------------------------------------


@dataclass(frozen=True)
class Var:
    """Any value (optionally one matching ``pattern``); a name always denotes one node."""

    name: str
    pattern: Any = None


@dataclass(frozen=True)
class Const:
    """A constant every element of which is bit-identical to ``value`` in its dtype."""

    value: float


@dataclass(frozen=True)
class Attr:
    """In an op pattern's attributes: binds the attribute's value to ``name``."""

    name: str


@dataclass(frozen=True)
class Op:
    """An op node with these arguments; ``attrs`` constrain or bind its attributes."""

    op: str
    args: tuple
    attrs: tuple = ()


def op(name: str, *args: Any, **attrs: Any) -> Op:
    """An op pattern (or replacement template): ``op("mul", X, Const(1))``."""
    return Op(name, args, tuple(attrs.items()))


@dataclass
class Match:
    """What a pattern bound: value names to node ids, attribute names to values."""

    graph: Graph
    nodes: dict[str, int] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    def type(self, name: str) -> TensorType:
        return self.graph.node(self.nodes[name]).type

    def __getitem__(self, name: str) -> Any:
        return self.attrs[name]


class Rule(NamedTuple):
    """``pattern`` rewrites to ``replacement`` where ``when(match)`` holds (if given)."""

    name: str
    pattern: Op
    replacement: Var | Op
    when: Callable[[Match], bool] | None = None


# --- conditions and attribute functions used by the rules ---------------------------------


def _compose(m: Match) -> tuple[int, ...]:
    """permute(permute(x, a), b) == permute(x, c) with c[j] = a[b[j]]."""
    return tuple(m["a"][j] for j in m["b"])


def _is_identity(dims: tuple[int, ...]) -> bool:
    return tuple(dims) == tuple(range(len(dims)))


def _lossless(src: dtype, dst: dtype) -> bool:
    """Whether every value of ``src`` is exactly a value of ``dst``.  numpy calls
    int64 -> float64 "safe", but 2**53 + 1 does not survive it."""
    if src is dst:
        return True
    if src.category == INT and src.itemsize == 8 and dst.category == FLOAT:
        return False
    return bool(np.can_cast(src.np, dst.np, casting="safe"))


def _exact_cast_chain(m: Match) -> bool:
    """cast(cast(x, a), b) == cast(x, b) when x's values survive ``a`` unchanged, unless a
    float ``a`` then goes to an integer ``b``: out-of-range float-to-int conversion is
    platform-defined per source type."""
    src, mid, dst = m.type("x").dtype, m["a"], m["b"]
    return _lossless(src, mid) and not (mid.category == FLOAT and dst.category == INT)


# --- the rule table -----------------------------------------------------------------------

X, Y, C = Var("x"), Var("y"), Var("c")
A, B = Attr("a"), Attr("b")
ONE, ZERO, NEG_ZERO = Const(1.0), Const(0.0), Const(-0.0)  # NEG_ZERO is plain 0 in integer dtypes

RULES: list[Rule] = [
    Rule("mul-one", op("mul", X, ONE), X),
    Rule("one-mul", op("mul", ONE, X), X),
    Rule("div-one", op("div", X, ONE), X),
    Rule("add-zero", op("add", X, NEG_ZERO), X),
    Rule("zero-add", op("add", NEG_ZERO, X), X),
    Rule("sub-zero", op("sub", X, ZERO), X),
    Rule("neg-neg", op("neg", op("neg", X)), X),
    Rule("not-not", op("logical_not", op("logical_not", X)), X),
    Rule("invert-invert", op("bitwise_not", op("bitwise_not", X)), X),
    Rule("maximum-self", op("maximum", X, X), X),
    Rule("minimum-self", op("minimum", X, X), X),
    Rule("where-same", op("where", C, X, X), X),
    *(
        Rule(f"{f}-{f}", op(f, Var("y", op(f, X))), Y)
        for f in ("abs", "relu", "sign", "floor", "ceil", "round", "trunc")
    ),
    Rule("permute-permute", op("permute", op("permute", X, dims=A), dims=B), op("permute", X, dims=_compose)),
    Rule("permute-identity", op("permute", X, dims=A), X, lambda m: _is_identity(m["a"])),
    Rule("reshape-reshape", op("reshape", op("reshape", X), shape=A), op("reshape", X, shape=A)),
    Rule("reshape-same", op("reshape", X), X),
    Rule(
        "broadcast-broadcast",
        op("broadcast_to", op("broadcast_to", X), shape=A),
        op("broadcast_to", X, shape=A),
    ),
    Rule("broadcast-same", op("broadcast_to", X), X),
    Rule("cast-same", op("cast", X), X),
    Rule("cast-cast", op("cast", op("cast", X, dtype=A), dtype=B), op("cast", X, dtype=B), _exact_cast_chain),
]


# --- matching and rewriting ---------------------------------------------------------------


def _const_matches(value: np.ndarray, wanted: float) -> bool:
    target = np.asarray(wanted).astype(value.dtype)
    if value.size == 0 or not (value == target).all():
        return False
    return value.dtype.kind != "f" or bool((np.signbit(value) == np.signbit(target)).all())


def _match(pattern: Any, nid: int, m: Match) -> bool:
    g = m.graph
    node = g.node(nid)
    if isinstance(pattern, Var):
        if pattern.name in m.nodes:
            return m.nodes[pattern.name] == nid
        if pattern.pattern is not None and not _match(pattern.pattern, nid, m):
            return False
        m.nodes[pattern.name] = nid
        return True
    if isinstance(pattern, Const):
        return node.op == CONSTANT and _const_matches(node.value, pattern.value)
    if node.op != pattern.op:
        return False
    for key, want in pattern.attrs:
        if key not in node.attrs:
            return False
        have = node.attrs[key]
        if isinstance(want, Attr):
            if m.attrs.setdefault(want.name, have) != have:
                return False
        elif have != want:
            return False
    args = g.args(nid)
    return len(args) == len(pattern.args) and all(_match(p, a, m) for p, a in zip(pattern.args, args))


class _Plan(NamedTuple):
    """A replacement op to create: its op, argument plans or node ids, attrs and type."""

    op: str
    args: tuple
    attrs: dict
    type: TensorType


def _plan(template: Var | Op, m: Match) -> int | _Plan:
    """The replacement as an existing node id or a typed plan; raises if ill-typed."""
    if isinstance(template, Var):
        return m.nodes[template.name]
    args = tuple(_plan(a, m) for a in template.args)
    attrs = {k: (m[v.name] if isinstance(v, Attr) else v(m) if callable(v) else v) for k, v in template.attrs}
    types = [a.type if isinstance(a, _Plan) else m.graph.node(a).type for a in args]
    meta = OPS[template.op].infer(*(Meta(t.shape, t.dtype) for t in types), **attrs)
    return _Plan(template.op, args, attrs, TensorType(tuple(meta.shape), meta.dtype))


def _materialize(g: Graph, plan: int | _Plan) -> int:
    if not isinstance(plan, _Plan):
        return plan
    return g.add_op(plan.op, [_materialize(g, a) for a in plan.args], plan.attrs, plan.type)


def _rewrite(g: Graph, nid: int, rules: list[Rule]) -> bool:
    """Apply the first of ``rules`` that matches at ``nid``; whether one did."""
    root = g.node(nid)
    for rule in rules:
        m = Match(g)
        if not _match(rule.pattern, nid, m) or (rule.when is not None and not rule.when(m)):
            continue
        try:
            plan = _plan(rule.replacement, m)
        except (RuntimeError, TypeError, ValueError, IndexError):  # the shape rule refused
            continue
        new_type = plan.type if isinstance(plan, _Plan) else g.node(plan).type
        if new_type != root.type:
            continue
        old_args = g.args(nid)
        if isinstance(plan, _Plan):
            # Rewrite the root in place (same id), so its position in the graph is kept.
            args = [_materialize(g, a) for a in plan.args]
            g.nx.remove_edges_from(list(g.nx.in_edges(nid, keys=True)))
            for pos, a in enumerate(args):
                g.nx.add_edge(a, nid, key=pos)
            g.nx.nodes[nid]["node"] = replace(root, op=plan.op, attrs=plan.attrs)
            prune(g, old_args)
        else:
            g.replace_uses(nid, plan)
            prune(g, [nid])
        return True
    return False


def simplify(g: Graph) -> Graph:
    """A copy of ``g`` with the rules of :data:`RULES` applied until none matches."""
    return simplify_counting(g)[0]


def simplify_counting(g: Graph) -> tuple[Graph, int]:
    """:func:`simplify`, and how many rewrites it made (none: the graph is unchanged)."""
    by_root: dict[str, list[Rule]] = {}
    for rule in RULES:
        by_root.setdefault(rule.pattern.op, []).append(rule)
    out = g.copy()
    rewrites, changed = 0, True
    while changed:
        changed = False
        for nid in out.order():
            while nid in out and _rewrite(out, nid, by_root.get(out.node(nid).op, [])):
                changed = True
                rewrites += 1
    return out, rewrites
