"""The op registry: every primitive op is one :class:`OpDef`, defined once.

Eager execution, the autograd engine, the tracer, IR autodiff and code generation
are all interpreters of these records:

* ``eval``   the numpy kernel, ``eval(*arrays, **attrs) -> ndarray``; it may assume
  its inputs already have the computation dtype (the dispatcher promotes them);
* ``infer``  the shape/dtype rule, ``infer(*metas, **attrs) -> Meta``, which needs no
  data (anything with ``.shape`` and ``.dtype`` will do) and raises PyTorch's error
  for bad shapes;
* ``vjp``    the gradient rule, ``vjp(F, g, ctx) -> tuple`` (one entry per input,
  ``None`` where ``ctx.needs`` is false), written against an op namespace ``F`` so
  the same rule runs on numpy arrays, on Tensors (``create_graph``) and on IR values;
* ``kind``   the lowering class the code generator uses.

``scalar(S, *xs, **attrs)`` is an elementwise op's value at one position, written
against the scalar ISA ``S`` of :mod:`irgrad.ops.scalar`: what code generators lower.

``reduction`` (a :class:`Reduction`) says how a reduction over ``dims`` combines
elements, for code generators that fuse it with the elementwise ops feeding it.

``view(shape, strides, **attrs) -> (offset, strides) | None`` (a view op's) gives its
output's layout within its first input's memory, in elements, or None where numpy
would copy (see :mod:`irgrad.ops.strides`): what a code generator needs to read a
view in place, and what makes an op a view for dispatch and memory planning.

``decompose(F, *xs, **attrs)`` (a composite primitive's) builds the op from simpler
primitives with the op namespace ``F`` (as gradient rules do), or returns None where
it does not apply: what a backend with no routine for the op lowers instead, so the
parts fuse with their neighbours.

``index_bounds(metas, attrs) -> {input position: exclusive bound}`` says which inputs
hold indices into another input and the bound their values must stay under (what
validation draws new index values from).

``complex`` says whether the op takes complex operands (None: movement ops do, as they
only move elements; every other op must say so); dispatch refuses complex operands to
the others with PyTorch's "not implemented for 'ComplexFloat'".  Gradient rules are
written for real values; for complex ones PyTorch's convention (``z.grad = dL/dx + i
dL/dy`` for ``z = x + iy``) makes a holomorphic op's gradient ``g * conj(f'(z))``, which
is the real rule applied to the conjugates of the values it saved, because the rules
are real-analytic in them: :func:`complex_context` gives the rule those.  An op that is
not holomorphic (``abs``, ``conj``, ``view_as_real``, a cast between real and complex)
sets ``holomorphic=False`` and its rule handles complex values itself.

``save_inputs`` (True, or a tuple of the input positions the rule reads) and
``save_output`` say what the gradient rule reads, so autograd keeps
only that alive (and checks in-place modification only of what it kept).
``ctx.ins`` keeps the inputs' positions either way, ``None`` where not saved.
``grad_reads`` narrows ``save_inputs`` by which inputs need a gradient: per input, the
input positions its gradient reads (``mul``'s ``((1,), (0,))``: ``y * 2`` keeps the 2,
not ``y``, which may then be written in place before the backward, as in PyTorch).  A
variadic op gives a function ``(input position, number of inputs) -> positions`` instead
(``index``'s :func:`reads_from` ``(1)``: its input's gradient reads the index tensors
alone).  :func:`saved_inputs` resolves the two for one application.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ..dtypes import dtype


class Kind(enum.Enum):
    """How an op is lowered to native code."""

    ELEMENTWISE = "elementwise"
    REDUCTION = "reduction"
    MATMUL = "matmul"
    CONV = "conv"
    MOVEMENT = "movement"
    RANDOM = "random"
    CELL = "cell"  # a fused multi-input kernel (an LSTM step): lowered as its own routine, never fused
    SCAN = "scan"  # a running reduction along a dim (cumsum): the input's shape, never an anchor
    SELECTION = "selection"  # positions chosen by comparing elements (argmax, argsort): integer results
    LOSS = "loss"  # picks at target classes and their reduction (nll_loss) or scatter (its gradient)
    CHECK = "check"  # the input, after raising for values out of range
    LAPACK = "lapack"  # a dense factorization (inv, det, solve, cholesky): numpy's LAPACK, never fused


class DtypeRule(enum.Enum):
    """How an elementwise op's computation and result dtypes follow its inputs'."""

    SAME = "same"  # result has the promoted input dtype (add, mul, neg, ...)
    FLOAT = "float"  # integer inputs are computed in the default float (exp, div, ...)
    COMPARE = "compare"  # computed in the promoted dtype, result is bool (lt, eq, ...)
    LOGICAL = "logical"  # any inputs, result is bool (logical_and, ...)
    INTEGRAL = "integral"  # bool/int only, result has the promoted dtype (bitwise ops)
    NONE = "none"  # not an arithmetic op: the op's own rule decides (where, cast)


class Reduction(NamedTuple):
    """How a reduction combines its elements: ``combine`` names the elementwise op whose
    scalar rule folds one more element into the running value (so NaN propagation is
    that op's), starting from ``identity``."""

    combine: str
    identity: float


class Recurrence(NamedTuple):
    """How a scan op (``lstm_scan``, ...) threads its state through time, so that a chain
    of scans, one per call of a cell in a Python loop, can be joined into one
    (:mod:`irgrad.passes.roll_scans`).  Argument 0 holds the steps' inputs ``[T, ...]``;
    the arguments at ``states`` are the state before the first step, and state ``k``
    after a step is columns ``[k H, (k + 1) H)`` of that step's row of the result (``H``
    the state's last dim).  The gradient op ``backward`` is called as
    ``backward(grad, result, *(args[i] for i in backward_args))``; its result has a row
    per step and, as row ``T``, the gradients of the initial states in those columns."""

    states: tuple[int, ...]
    backward: str
    backward_args: tuple[int, ...]


class Meta(NamedTuple):
    """What the shape rule knows of a value: its shape and dtype."""

    shape: tuple[int, ...]
    dtype: dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)


class VjpContext(NamedTuple):
    """What a gradient rule may read: saved inputs/output (``None`` if not saved),
    the input shapes and dtypes, which inputs need a gradient, the op's attributes, and
    whether the rule's own work will be differentiated (``create_graph``), so a rule with
    a fused gradient op that has no gradient of its own must use differentiable ops."""

    ins: tuple | None
    out: Any
    metas: tuple[Meta, ...]
    needs: tuple[bool, ...]
    attrs: dict
    higher_order: bool = False


@dataclass(frozen=True, eq=False)
class OpDef:
    """One primitive op: everything every layer of irgrad needs to know about it."""

    name: str
    kind: Kind
    eval: Callable[..., Any]
    infer: Callable[..., Meta]
    vjp: Callable[..., tuple] | None = None
    save_inputs: bool | tuple[int, ...] = False
    grad_reads: tuple[tuple[int, ...], ...] | Callable[[int, int], Iterable[int]] | None = None  # module doc
    save_output: bool = False
    dtype_rule: DtypeRule = DtypeRule.NONE
    arity: int = 1
    index_bounds: Callable[..., dict[int, int]] | None = None
    scalar: Callable[..., Any] | None = None
    reduction: Reduction | None = None
    view: Callable[..., tuple[int, tuple[int, ...]] | None] | None = None
    decompose: Callable[..., Any] | None = None
    recurrence: Recurrence | None = None
    linear: bool = False  # linear in its arguments together: f(x + y) = f(x) + f(y)
    # groups of argument positions the op is linear in, the other arguments fixed (a
    # product: in either factor; a quotient: in its numerator; where: in both values
    # together): a gradient known to be absent contributes nothing through such a group,
    # and is dropped there instead of multiplied (0 * inf would make NaN; see
    # passes/absent_gradients.py).  ``linear`` ops are linear in all their arguments.
    linear_in: tuple[tuple[int, ...], ...] = ()
    # f(a, b) == f(b, a) for all values, signed zeros included (not maximum: which zero
    # max(-0., 0.) gives depends on the order): CSE merges the two orders
    commutative: bool = False
    raises: bool = False  # a check: its error must happen even when its value is unused
    # how a cat of this op's per-step values is the op applied once (see ops/stacking.py)
    stack: Callable[..., Any] | None = None
    # the op's value is its argument at this position (detach, rebind): it exists for
    # autodiff alone, so a graph past autodiff may read that argument instead
    # (passes/value_identities.py)
    identity_of: int | None = None
    # a constant computed from the sizes of a graph with symbolic sizes (a mean's count):
    # made by ir.symbolic.generalize, and a constant again once the sizes are known
    size_constant: bool = False
    # its results are new C-contiguous arrays whatever its inputs' strides (made so by
    # register, as PyTorch lays them out): no input's layout shows through them, which
    # the tracer relies on (trace.Tracer.on_layout_read); every op of FRESH_LAYOUT kinds
    fresh_layout: bool = False
    # takes complex operands (None: a movement op does, others do not); see the module doc
    complex: bool | None = None
    # for complex values the rule reads the conjugates of what it saved (module doc)
    holomorphic: bool = True
    doc: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return f"<op {self.name}>"

    @property
    def differentiable(self) -> bool:
        return self.vjp is not None

    @property
    def is_linear(self) -> bool:
        """Whether the op is linear in its arguments together (a view only moves them)."""
        return self.linear or self.view is not None

    @property
    def effectful(self) -> bool:
        """Whether running the op does something beyond computing its value, so it runs
        even when its value is unused (as eagerly): a random draw advances the generator,
        a check may raise."""
        return self.kind is Kind.RANDOM or self.raises


OPS: dict[str, OpDef] = {}


# kinds whose results PyTorch lays out contiguous whatever the input's strides (numpy's
# reductions and running sums keep a permuted input's order: ``.view`` of one failed)
FRESH_LAYOUT = (Kind.REDUCTION, Kind.SCAN)


def register(op: OpDef) -> OpDef:
    """Add ``op`` to the registry; each name is defined exactly once."""
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} is already registered")
    if op.kind in FRESH_LAYOUT or op.fresh_layout:
        op = dataclasses.replace(op, eval=_contiguous_results(op.eval), fresh_layout=True)
    if op.complex is None:
        op = dataclasses.replace(op, complex=op.kind is Kind.MOVEMENT)
    OPS[op.name] = op
    return op


def _contiguous_results(kernel: Callable[..., Any]) -> Callable[..., Any]:
    """``kernel`` returning C-contiguous arrays (a copy only where numpy's was not)."""

    def contiguous(*args, **attrs):
        out = kernel(*args, **attrs)
        if isinstance(out, tuple):
            return tuple(_contiguous(a) for a in out)
        return _contiguous(out)

    contiguous.__wrapped__ = kernel
    return contiguous


def _contiguous(a):
    return a if not isinstance(a, np.ndarray) or a.flags.c_contiguous else np.ascontiguousarray(a)


def get(name: str) -> OpDef:
    """The op called ``name``."""
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"irgrad has no primitive op named {name!r}") from None


@functools.lru_cache(maxsize=4096)
def saved_inputs(op: OpDef, needs: tuple[bool, ...]) -> bool | tuple[int, ...]:
    """The input positions autograd keeps for ``op``'s gradients when the inputs flagged
    in ``needs`` need one: ``op.save_inputs`` narrowed by ``op.grad_reads`` (True: all)."""
    reads = op.grad_reads
    if not op.save_inputs or reads is None:
        return op.save_inputs
    n = len(needs)
    read = reads if callable(reads) else lambda i, _: reads[i]
    return tuple(sorted({j for i, need in enumerate(needs) if need for j in read(i, n)}))


def reads_from(start: int) -> Callable[[int, int], range]:
    """A variadic op's ``grad_reads``: every input's gradient reads the inputs from
    position ``start`` on (the index tensors of ``index``)."""
    return lambda i, n: range(start, n)


def other_inputs(i: int, n: int) -> tuple[int, ...]:
    """A variadic op's ``grad_reads``: each input's gradient reads all the other inputs
    (a product's, as ``einsum``'s)."""
    return tuple(j for j in range(n) if j != i)


def _is_complex(value) -> bool:
    dt = getattr(value, "dtype", None)
    return dt is not None and (dt.kind == "c" if isinstance(dt, np.dtype) else bool(dt.is_complex))


def complex_context(F, ctx: VjpContext) -> VjpContext:
    """``ctx`` as a holomorphic op's real gradient rule must read it for complex values:
    its saved complex inputs and output conjugated (``F.conj``), so the rule computes
    ``g * conj(f'(z))``; ``ctx`` itself when nothing it holds is complex."""
    ins, out = ctx.ins, ctx.out
    if not (any(m.dtype.is_complex for m in ctx.metas) or _is_complex(out)):
        return ctx
    if ins is not None:
        ins = tuple(F.conj(x) if x is not None and _is_complex(x) else x for x in ins)
    if out is not None and _is_complex(out):
        out = F.conj(out)
    return ctx._replace(ins=ins, out=out)
