"""Random well-typed IR graphs and matching inputs, for property tests of passes.

``graphs()`` is a hypothesis strategy (it shrinks towards small graphs of simple ops);
``random_graph(seed)`` builds the same kind of graph from a seeded numpy generator; both
go through one builder, so they produce the same distribution of programs.
``random_inputs(g, rng)`` gives arrays for a graph's inputs, and
``assert_equivalent(before, after, inputs)`` checks a pass result against its input graph.

A graph has 1-3 float32 inputs of small shapes that all broadcast against one base
shape, and 5-40 steps drawn from: elementwise unary and binary ops, ``where`` on a
comparison, ``sum``/``amax`` reductions, ``reshape``/``permute``/``broadcast_to``/``slice``,
``matmul`` where shapes allow, an f32 -> f64 -> f32 cast round trip, and constants.
So that every pass has work to do, constants include 0, -0.0 and 1 (simplify's rules),
steps may repeat an earlier op exactly (CSE), build constant-only subexpressions
(folding), undo or chain movements (``neg(neg(x))``, inverse permutes, reshape chains),
and the outputs (1-3 values, possibly an input) leave other values dead (DCE).
Only ops that are defined everywhere are used (no log, sqrt or division by values), so
inputs need no care about domains.  Every graph passes ``verify``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

import irgrad
from irgrad.ir import Graph, TensorType, interpret, verify
from irgrad.ops import OPS, Meta
from irgrad.ops.shapes import broadcast_shapes

F32, F64 = irgrad.float32, irgrad.float64
UNARY = ("neg", "exp", "tanh", "abs", "relu", "sigmoid", "sin")

# How far native code may be from the interpreter on these graphs, relatively.  Each native
# transcendental is within an ulp of numpy's, but a chain of them amplifies a difference:
# through exp(exp(exp(exp(x)))) an ulp of the innermost result is multiplied by the product
# of the later exps' arguments (the fuzzer found one of 1.1e9: 19 ulps, 1.1e-5), which stays
# a few hundred before exp overflows.
NATIVE_RTOL = 5e-5
BINARY = ("add", "sub", "mul", "maximum", "minimum")
COMPARE = ("gt", "lt", "ge", "eq")
SPECIAL = (0.0, -0.0, 1.0, 1.0, 2.5)
MAX_NUMEL, MAX_RANK = 256, 4


class NumpyChooser:
    """Random choices from a numpy Generator."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        """An int in [lo, hi]."""
        return int(self.rng.integers(lo, hi + 1))

    def real(self) -> float:
        return float(np.float32(self.rng.uniform(-3.0, 3.0)))


class DrawChooser:
    """Random choices drawn by hypothesis (so failing graphs shrink)."""

    def __init__(self, draw: Callable) -> None:
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def real(self) -> float:
        return self.draw(st.floats(-3.0, 3.0, width=32))


class _Builder:
    """Grows one random graph; ``values`` are the float32 values made so far."""

    def __init__(self, ch: NumpyChooser | DrawChooser) -> None:
        self.ch = ch
        self.g = Graph("random")
        self.values: list[int] = []

    # --- choices ------------------------------------------------------------------------
    def flip(self, percent: int) -> bool:
        return self.ch.integer(0, 99) < percent

    def pick(self, seq):
        return seq[self.ch.integer(0, len(seq) - 1)]

    def value(self, where: Callable[[tuple], bool] = lambda s: True) -> int | None:
        """A value whose shape satisfies ``where``, preferring recent ones (None if none)."""
        ok = [v for v in self.values if where(self.shape(v))]
        if not ok:
            return None
        return ok[-1 - self.ch.integer(0, min(3, len(ok) - 1))] if self.flip(50) else self.pick(ok)

    def shape(self, nid: int) -> tuple:
        return self.g.node(nid).type.shape

    # --- building -----------------------------------------------------------------------
    def add(self, op: str, args: list[int], **attrs: Any) -> int | None:
        """Add ``op`` (typed by its shape rule) unless its result would be too big."""
        types = [self.g.node(a).type for a in args]
        meta = OPS[op].infer(*(Meta(t.shape, t.dtype) for t in types), **attrs)
        if len(meta.shape) > MAX_RANK or int(np.prod(meta.shape)) > MAX_NUMEL:
            return None
        nid = self.g.add_op(op, args, attrs, TensorType(tuple(meta.shape), meta.dtype))
        if meta.dtype is F32:
            self.values.append(nid)
        return nid

    def constant(self, shape: tuple, fill: float | None = None) -> int:
        if fill is None and self.flip(50):
            fill = self.pick(SPECIAL)
        if fill is not None:
            value = np.full(shape, fill, dtype=np.float32)
        else:
            value = np.array([self.ch.real() for _ in range(int(np.prod(shape)))], dtype=np.float32)
            value = value.reshape(shape)
        return self.g.add_constant(value, TensorType(shape, F32))

    def sub_shape(self, base: tuple) -> tuple:
        """A suffix of ``base`` with some dims set to 1: broadcastable to ``base``."""
        suffix = base[len(base) - self.ch.integer(0, len(base)) :]
        return tuple(1 if self.flip(30) else d for d in suffix)

    # --- steps --------------------------------------------------------------------------
    def step(self) -> None:
        kinds = (
            self.unary,
            self.binary,
            self.binary,
            self.with_constant,
            self.with_constant,
            self.where,
            self.reduce,
            self.reshape,
            self.permute,
            self.broadcast,
            self.slice,
            self.matmul,
            self.cast_round_trip,
            self.new_constant,
            self.repeat,
            self.undo,
        )
        self.pick(kinds)()

    def unary(self) -> None:
        self.add(self.pick(UNARY), [self.value()])

    def binary(self) -> None:
        a = self.value()
        b = self.value(lambda s: _broadcasts(s, self.shape(a)))
        self.add(self.pick(BINARY), [a, b] if self.flip(50) else [b, a])

    def with_constant(self, op: str | None = None) -> None:
        a = self.value()
        c = self.constant(self.pick([(), self.shape(a), self.sub_shape(self.shape(a))]))
        op = op or self.pick(BINARY + ("div",))
        if op == "div":  # divide by the constant only, and never by zero
            self.g.node(c).value[self.g.node(c).value == 0] = 1.0
            self.add(op, [a, c])
        else:
            self.add(op, [a, c] if self.flip(50) else [c, a])

    def where(self) -> None:
        a = self.value()
        b = self.value(lambda s: _broadcasts(s, self.shape(a)))
        cond = self.add(self.pick(COMPARE), [a, b])
        if cond is None:
            return
        x, y = self.pick([(a, b), (b, a), (a, a)])
        self.add("where", [cond, x, y])

    def reduce(self) -> None:
        a = self.value(lambda s: len(s) >= 1)
        if a is None:
            return
        rank = len(self.shape(a))
        dims = tuple(d for d in range(rank) if self.flip(50)) or (self.ch.integer(0, rank - 1),)
        self.add(self.pick(("sum", "amax")), [a], dims=dims, keepdim=self.flip(50))

    def reshape(self) -> None:
        a = self.value()
        s = self.shape(a)
        n = int(np.prod(s))
        target = self.pick([(n,), s + (1,), (1,) + s, s[::-1], s])
        self.add("reshape", [a], shape=tuple(target))

    def permute(self, a: int | None = None, dims: tuple | None = None) -> None:
        a = a if a is not None else self.value(lambda s: len(s) >= 2)
        if a is None:
            return
        rank = len(self.shape(a))
        if dims is None:
            dims = tuple(sorted(range(rank), key=lambda _: self.ch.integer(0, 9)))
        self.add("permute", [a], dims=dims)

    def broadcast(self) -> None:
        a = self.value()
        lead = tuple(self.ch.integer(1, 3) for _ in range(self.ch.integer(0, 1)))
        target = lead + tuple(self.ch.integer(1, 3) if d == 1 else d for d in self.shape(a))
        self.add("broadcast_to", [a], shape=target)

    def slice(self) -> None:
        a = self.value(lambda s: len(s) >= 1)
        if a is None:
            return
        index = []
        for size in self.shape(a)[: self.ch.integer(1, len(self.shape(a)))]:
            if self.flip(20):
                index.append(self.ch.integer(0, size - 1))
                continue
            start = self.ch.integer(0, size - 1)
            index.append(slice(start, self.ch.integer(start + 1, size), self.ch.integer(1, 2)))
        self.add("slice", [a], index=tuple(index))

    def matmul(self) -> None:
        a = self.value(lambda s: len(s) >= 2)
        if a is None:
            return
        sa = self.shape(a)
        b = self.value(lambda s: len(s) >= 2 and s[-2] == sa[-1] and _broadcasts(s[:-2], sa[:-2]))
        if b is None:  # a @ a^T always fits
            rank = len(sa)
            b = self.add("permute", [a], dims=tuple(range(rank - 2)) + (rank - 1, rank - 2))
        self.add("matmul", [a, b])

    def cast_round_trip(self) -> None:
        wide = self.add("cast", [self.value()], dtype=F64)
        self.add("cast", [wide], dtype=F32)

    def new_constant(self) -> None:
        self.values.append(self.constant(self.sub_shape(self.base)))

    def repeat(self) -> None:
        """Re-add an earlier op exactly (same op, arguments and attributes)."""
        ops = [v for v in self.values if self.g.node(v).is_op]
        if ops:
            node = self.g.node(self.pick(ops))
            self.add(node.op, self.g.args(node.id), **node.attrs)

    def undo(self) -> None:
        """A pair of steps that cancel: neg(neg(x)), a permute and its inverse, two
        reshapes, a constant-only expression, or x op 0/1."""
        choice = self.ch.integer(0, 4)
        if choice == 0:
            first = self.add("neg", [self.value()])
            self.add("neg", [first])
        elif choice == 1:
            a = self.value(lambda s: len(s) >= 2)
            if a is not None:
                self.permute(a)
                dims = self.g.node(self.values[-1]).attrs["dims"]
                self.permute(self.values[-1], tuple(np.argsort(dims).tolist()))
        elif choice == 2:
            self.reshape()
            self.reshape()
        elif choice == 3:
            c = self.constant(self.sub_shape(self.base))
            d = self.constant(self.sub_shape(self.base))
            self.add(self.pick(BINARY), [c, d])
        else:
            self.with_constant(self.pick(("add", "sub", "mul", "div")))

    def build(self) -> Graph:
        self.base = tuple(self.ch.integer(1, 4) for _ in range(self.ch.integer(1, 3)))
        for i in range(self.ch.integer(1, 3)):
            self.values.append(self.g.add_input(f"x{i}", TensorType(self.sub_shape(self.base), F32)))
        for _ in range(self.ch.integer(5, 40)):
            self.step()
        outputs = [self.values[-1]] + [self.pick(self.values) for _ in range(self.ch.integer(0, 2))]
        self.g.set_outputs(outputs)
        return verify(self.g)


def _broadcasts(a: tuple, b: tuple) -> bool:
    try:
        broadcast_shapes("test", a, b)
    except RuntimeError:
        return False
    return True


def random_graph(seed: int | np.random.Generator) -> Graph:
    """A random well-typed graph from a numpy seed (or Generator)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return _Builder(NumpyChooser(rng)).build()


@st.composite
def graphs(draw: Callable) -> Graph:
    """Hypothesis strategy of random well-typed graphs."""
    return _Builder(DrawChooser(draw)).build()


def random_inputs(g: Graph, rng: np.random.Generator | int = 0) -> list[np.ndarray]:
    """Arrays for ``g``'s inputs: standard normal floats, small ints, random bools."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    arrays = []
    for nid in g.inputs:
        t = g.node(nid).type
        if t.dtype.is_floating_point:
            arrays.append(rng.standard_normal(t.shape).astype(t.dtype.np))
        elif t.dtype is irgrad.bool_:
            arrays.append(rng.random(t.shape) < 0.5)
        else:
            arrays.append(rng.integers(-5, 6, size=t.shape).astype(t.dtype.np))
    return arrays


def assert_equivalent(before: Graph, after: Graph, inputs: list[np.ndarray]) -> None:
    """``after`` verifies and computes what ``before`` does on ``inputs`` (same shapes and
    dtypes; values up to the rounding differences a changed memory layout may cause in
    reductions and matmul)."""
    verify(after)
    assert [after.node(i).type for i in after.inputs] == [before.node(i).type for i in before.inputs]
    with np.errstate(all="ignore"):
        want = interpret(before, inputs)
        got = interpret(after, inputs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, equal_nan=True)
