"""Symbolic sizes: one graph valid for every size of a dynamic dimension.

A :class:`Sym` is an affine expression ``c + a1*S1 + a2*S2 ...`` over size symbols
(``B``, ``B1`` ...).  :func:`generalize` takes graphs built identically at different
sizes (the base sizes, then each symbol increased by one, then all increased by two
as a check) and returns one graph whose size-dependent integers (in types and op
attributes) are Syms.  It returns None when the graphs are not the same program at
every size: different ops, different constants, or an integer that is not affine
in the sizes.  :func:`resolve` evaluates Syms for concrete sizes at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..ops import OPS
from .graph import CONSTANT, Graph, TensorType
from .run_time_sizes import Assumptions, Size


@dataclass(frozen=True)
class Sym:
    """``const + sum(coef * symbol)``: a size that depends on dynamic dimensions."""

    terms: tuple[tuple[str, int], ...]
    const: int = 0

    def eval(self, env: dict[str, int]) -> int:
        return self.const + sum(coef * env[name] for name, coef in self.terms)

    def __str__(self) -> str:
        parts = [name if coef == 1 else f"{coef}*{name}" for name, coef in self.terms]
        text = "+".join(parts)
        if self.const:
            text += f"{self.const:+d}"
        return text

    __repr__ = __str__


def resolve(value: Any, env: dict[str, int]) -> Any:
    """``value`` with every Sym (and run-time :class:`~.run_time_sizes.Size`) evaluated for
    the sizes in ``env``."""
    if isinstance(value, Sym):
        return value.eval(env)
    if isinstance(value, Size):
        return value.evaluate(env)
    if isinstance(value, tuple):
        return tuple(resolve(v, env) for v in value)
    if isinstance(value, list):
        return [resolve(v, env) for v in value]
    if isinstance(value, slice):
        return slice(resolve(value.start, env), resolve(value.stop, env), resolve(value.step, env))
    if isinstance(value, dict):
        return {k: resolve(v, env) for k, v in value.items()}
    return value


def has_sym(value: Any) -> bool:
    if isinstance(value, Sym):
        return True
    if isinstance(value, (tuple, list)):
        return any(has_sym(v) for v in value)
    if isinstance(value, slice):
        return has_sym((value.start, value.stop, value.step))
    if isinstance(value, dict):
        return any(has_sym(v) for v in value.values())
    return False


class _NotAffine(Exception):
    pass


def _merge(values: list, symbols: list[str], base: list[int]) -> Any:
    """One value standing for ``values`` seen at the probe sizes (see :func:`generalize`)."""
    first = values[0]
    if all(type(v) is type(first) for v in values) and isinstance(first, (tuple, list)):
        if any(len(v) != len(first) for v in values):
            raise _NotAffine
        merged = [_merge([v[i] for v in values], symbols, base) for i in range(len(first))]
        return type(first)(merged)
    if isinstance(first, slice) and all(isinstance(v, slice) for v in values):
        parts = [_merge([getattr(v, f) for v in values], symbols, base) for f in ("start", "stop", "step")]
        return slice(*parts)
    if isinstance(first, dict) and all(isinstance(v, dict) and v.keys() == first.keys() for v in values):
        return {k: _merge([v[k] for v in values], symbols, base) for k in first}
    if (
        isinstance(first, (int, np.integer))
        and not isinstance(first, bool)
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values)
    ):
        if all(v == first for v in values):
            return int(first)
        coefs = [int(values[1 + j]) - int(first) for j in range(len(symbols))]
        const = int(first) - sum(c * s for c, s in zip(coefs, base))
        check = values[1 + len(symbols)]
        if const + sum(c * (s + 2) for c, s in zip(coefs, base)) != check:
            raise _NotAffine
        terms = tuple((name, c) for name, c in zip(symbols, coefs) if c)
        return Sym(terms, const) if terms else const
    if all(v == first for v in values):
        return first
    raise _NotAffine


def generalize_value(values: list, symbols: list[str], base: list[int]) -> tuple[bool, Any]:
    """Whether ``values``, seen at the probe sizes of :func:`generalize`, are affine in the
    symbols, and the one value standing for them (as ``generalize`` merges attributes)."""
    try:
        return True, _merge(values, symbols, base)
    except _NotAffine:
        return False, None


def generalize(graphs: list[Graph], symbols: list[str], base: list[int]) -> Graph | None:
    """Merge graphs traced at the base sizes, at each symbol + 1, and at all symbols + 2.

    ``graphs[0]`` is at ``base``; ``graphs[1 + j]`` has symbol j one larger; the last
    has every symbol two larger.  Returns the symbolic graph, or None if they differ
    in anything but affine sizes.
    """
    orders = [g.order() for g in graphs]
    if len({len(o) for o in orders}) != 1 or len({len(g.outputs) for g in graphs}) != 1:
        return None
    first = graphs[0]
    position = [{nid: i for i, nid in enumerate(o)} for o in orders]
    out = first.copy()
    try:
        for k, nid in enumerate(orders[0]):
            nodes = [g.node(o[k]) for g, o in zip(graphs, orders)]
            if len({n.op for n in nodes}) != 1 or len({n.role for n in nodes}) != 1:
                return None
            args = [[position[i][a] for a in g.args(o[k])] for i, (g, o) in enumerate(zip(graphs, orders))]
            if any(a != args[0] for a in args):
                return None
            if nodes[0].op == CONSTANT and any(not same_constant(n.value, nodes[0].value) for n in nodes):
                sized = _sized_constant(nodes, symbols, base)
                if sized is None:
                    return None
                op, attrs, shape = sized
                node = out.node(nid)
                out.nx.nodes[nid]["node"] = replace(
                    node, op=op, value=None, attrs=attrs, type=TensorType(shape, node.type.dtype)
                )
                continue
            if nodes[0].body is not None:
                body = generalize([n.body for n in nodes], symbols, base)
                if body is None:
                    return None
            else:
                body = None
            shape = _merge([n.type.shape for n in nodes], symbols, base)
            attrs = _merge([n.attrs for n in nodes], symbols, base)
            node = out.node(nid)
            out.nx.nodes[nid]["node"] = replace(
                node,
                type=TensorType(tuple(_dim(d) for d in shape), node.type.dtype),
                attrs=attrs,
                body=body,
            )
    except _NotAffine:
        return None
    if any(
        [position[i][o] for o in g.outputs] != [position[0][o] for o in first.outputs]
        for i, g in enumerate(graphs)
    ):
        return None
    return out


def same_constant(one: np.ndarray, other: np.ndarray) -> bool:
    """Whether two constants are one value: shape, dtype, elements (NaN equal to NaN) and
    the signs of zeros (``x * -0.0`` is not ``x * 0.0``)."""
    if one.shape != other.shape or one.dtype != other.dtype:
        return False
    if not np.array_equal(one, other, equal_nan=True):
        return False
    return one.dtype.kind not in "fc" or np.array_equal(np.signbit(one), np.signbit(other))


def _sized_constant(constants: list, symbols: list[str], base: list[int]) -> tuple | None:
    """``(op, attrs, shape)`` of the node standing for constants seen at the probe sizes:
    ``size_scalar`` where they are 0-d values of the sizes (see :func:`_size_value`: a
    mean's count ``B``, or its gradient's ``2 / B``), ``full`` where they are one value
    over shapes affine in the sizes (an LSTM's zero state over a batch, a mean's gradient
    over it), ``arange`` where they count up by one step over such shapes (a
    transformer's positions ``arange(T)``); None for anything else.  (A coincidence is
    caught at the next size, whose trace must give the same program: see
    ``same_program``.)"""
    first = constants[0].value
    dtype = constants[0].type.dtype
    if any(n.value.dtype != first.dtype or n.value.ndim != first.ndim for n in constants):
        return None
    if any(n.value.size == 0 for n in constants) or first.dtype.kind not in "biuf":
        return None
    for op, attrs in (("arange", _counting(constants)), ("tri", _triangle(constants))):
        if attrs is None:
            continue
        try:
            shape = _merge([tuple(n.value.shape) for n in constants], symbols, base)
        except _NotAffine:
            return None
        if not has_sym(shape):
            return None
        return op, {"shape": shape, **attrs, "dtype": dtype}, tuple(_dim(d) for d in shape)
    if first.dtype.kind == "b":
        return None
    scalars = []
    for n in constants:  # every element of each constant is one value, signed zeros apart
        scalar = n.value.reshape(-1)[0]
        same = n.value == scalar
        if first.dtype.kind == "f":
            same &= np.signbit(n.value) == np.signbit(scalar)
        if not same.all():
            return None
        scalars.append(scalar)
    if all(same_constant(x, scalars[0]) for x in scalars):
        value = {"value": scalars[0].item()}
    else:
        value = _size_value(scalars, symbols, base)
        if value is None:
            return None
    if first.ndim == 0:
        return "size_scalar", {**value, "dtype": dtype}, ()
    try:
        shape = _merge([tuple(n.value.shape) for n in constants], symbols, base)
    except _NotAffine:
        return None
    if not has_sym(shape) and not has_sym(value["value"]):
        return None
    return "full", {"shape": shape, **value, "dtype": dtype}, tuple(_dim(d) for d in shape)


def _counting(constants: list) -> dict | None:
    """``{"start": a, "step": d}`` when every constant holds the whole numbers ``a, a + d,
    a + 2d, ...`` in C order (``d`` not 0, at least two of them), exactly in its dtype:
    the ``arange`` op's attributes; else None."""
    starts_and_steps = set()
    for n in constants:
        flat = n.value.reshape(-1)
        if flat.size < 2 or not np.all(np.isfinite(flat)) or not np.all(flat == np.round(flat)):
            return None
        start, step = int(flat[0]), int(flat[1]) - int(flat[0])
        if step == 0 or (n.value.dtype.kind == "f" and np.any((flat == 0) & np.signbit(flat))):
            return None  # (-0.0 is no count)
        counted = (start + step * np.arange(flat.size, dtype=np.int64)).astype(n.value.dtype)
        if not np.array_equal(counted, flat):
            return None
        starts_and_steps.add((start, step))
    return {"start": start, "step": step} if len(starts_and_steps) == 1 else None


def _triangle(constants: list) -> dict | None:
    """The ``tri`` op's attributes when every constant holds one value on and below (or on
    and above) one diagonal of its last two dims and another elsewhere, the same at every
    probe (a causal attention mask: ``tril(ones(T, T))``); else None."""
    found = set()
    for n in constants:
        value = n.value
        if value.ndim < 2 or min(value.shape[-2:]) < 2:
            return None
        values = np.unique(value)
        if len(values) != 2 or (value.dtype.kind == "f" and np.any((values == 0) & np.signbit(values))):
            return None  # (a -0.0 would print as 0.0 in the attributes)
        above = np.arange(value.shape[-1])[None, :] - np.arange(value.shape[-2])[:, None]  # j - i
        matches = []
        for inside, outside in ((values[0], values[1]), (values[1], values[0])):
            where = (value == inside).reshape(-1, *value.shape[-2:])[0]
            if where.all() or not where.any():  # (the first matrix is not split by a diagonal)
                continue
            for lower in (True, False):
                offset = int(above[where].max() if lower else above[where].min())
                within = above <= offset if lower else above >= offset
                if np.array_equal(value, np.broadcast_to(np.where(within, inside, outside), value.shape)):
                    matches.append((offset, lower, inside.item(), outside.item()))
        if not matches:
            return None
        found.add(matches[0])
    if len(found) != 1:
        return None
    offset, lower, inside, outside = found.pop()
    return {"offset": offset, "lower": lower, "inside": inside, "outside": outside}


def _size_value(scalars: list, symbols: list[str], base: list[int]) -> dict | None:
    """Attributes computing numbers seen at the probe sizes from the sizes: ``{"value":
    3*B}`` for whole numbers affine in them, ``{"value": B, "numerator": 2.0}`` for a
    number over such a size (one symbol: a mean's gradient folded to ``2 / B``), each
    checked to give every probe's number bit for bit in its dtype; else None."""
    dtype = scalars[0].dtype
    numbers = [x.item() for x in scalars]
    if any(x != x or x in (float("inf"), float("-inf")) for x in numbers):
        return None
    if any(x == 0 and np.signbit(s) for x, s in zip(numbers, scalars)):
        return None  # -0.0: no size gives it (x * -(B - 6) at B = 6)
    if all(x == int(x) for x in numbers):
        try:
            size = _merge([int(x) for x in numbers], symbols, base)
        except _NotAffine:
            return None
        return {"value": size} if isinstance(size, Sym) else None
    if len(symbols) != 1 or dtype.kind != "f" or 0.0 in numbers:
        return None
    reciprocals = [1.0 / x for x in numbers]
    step = reciprocals[1] - reciprocals[0]
    if step == 0.0:
        return None
    counts = [round(r / step) for r in reciprocals]
    try:
        size = _merge(counts, symbols, base)
    except _NotAffine:
        return None
    numerator = float(numbers[0] * counts[0])
    exact = all(
        np.asarray(numerator, dtype) / np.asarray(count, dtype) == x for count, x in zip(counts, scalars)
    )
    return {"value": size, "numerator": numerator} if isinstance(size, Sym) and exact else None


def _dim(d):
    """A Sym that is exactly one symbol prints as the symbol itself in types."""
    if isinstance(d, Sym) and d.const == 0 and len(d.terms) == 1 and d.terms[0][1] == 1:
        return d.terms[0][0]
    return d


def attribute_dim(d):
    """A type's dimension as an attribute holds it (a shape of ``broadcast_to``): a
    symbol's name, which types print for a :class:`Sym` of one symbol, as that Sym."""
    return Sym(((d, 1),)) if isinstance(d, str) else d


def specialize(graph: Graph, env: dict[str, int]) -> Graph:
    """A copy of ``graph`` for the sizes in ``env``: every symbolic size (and run-time
    Size) in its types, op attributes and fused bodies evaluated, so the copy is static."""
    return _substituted(graph, env, constants=True)


def with_run_time_sizes(graph: Graph, env: dict[str, int]) -> tuple[Graph, Assumptions]:
    """A copy of ``graph`` whose symbolic sizes are :class:`~.run_time_sizes.Size`
    objects hinted with the sizes in ``env``, and the assumptions its compiler will
    record (see :mod:`.run_time_sizes`)."""
    assumptions = Assumptions(env)
    sizes = {name: assumptions.size(name) for name in env}
    return _substituted(graph, sizes, constants=False), assumptions


def _substituted(graph: Graph, env: dict, constants: bool) -> Graph:
    """A copy of ``graph`` with each size symbol replaced by its value in ``env`` (an int,
    or a run-time Size) in types, attributes and bodies; with ``constants``, the ops
    computing constants from the sizes become those constants."""
    out = graph.copy()
    for nid in out.nx.nodes:
        node = out.nx.nodes[nid]["node"]
        if constants and is_size_constant(node):  # as the trace at these sizes has
            value = size_constant_value(node, env)
            out.nx.nodes[nid]["node"] = replace(
                node, op=CONSTANT, value=value, attrs={}, type=TensorType(value.shape, node.type.dtype)
            )
            continue
        out.nx.nodes[nid]["node"] = replace(
            node,
            type=TensorType(resolved_shape(node.type.shape, env), node.type.dtype),
            attrs=resolve(node.attrs, env),
            body=None if node.body is None else _substituted(node.body, env, constants),
        )
    return out


def is_size_constant(node) -> bool:
    """Whether ``node`` computes a constant from the sizes (OpDef.size_constant)."""
    return node.op in OPS and OPS[node.op].size_constant


def size_constant_value(node, env: dict) -> np.ndarray:
    """The constant a :func:`is_size_constant` node stands for at the sizes ``env``."""
    return np.asarray(OPS[node.op].eval(**resolve(node.attrs, env)))


def resolved_shape(shape: tuple, env: dict) -> tuple:
    """``shape`` with its symbols (and symbolic sizes) evaluated at the sizes ``env``."""
    return tuple(env[d] if isinstance(d, str) else resolve(d, env) for d in shape)
