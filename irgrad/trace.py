"""The tracer: runs eager code once and records every primitive op into an IR Graph.

Tracing *is* eager execution: the user's function runs on real tensors, and every
op that passes through :func:`irgrad.dispatch.apply` is also appended to a Graph.
So composites (softmax, LSTM cells, conv) arrive as their primitives, Python
control flow is specialised on the values it saw, and every node remembers the
user source line that created it.

Tensors the function did not create (module parameters and buffers, closures,
globals, optimizer state) become graph inputs, never constants, so every later call
reads their current values; in-place writes to them (BatchNorm's running statistics,
an optimizer step) become extra graph outputs that the runtime writes back.  A tensor
made during the trace from Python values (``irgrad.tensor([...])``, a Python scalar
operand) becomes a constant.  :mod:`irgrad.compiler.capture` drives a trace.

When Python reads the value of a tensor that depends on the inputs (``.item()``,
``bool(t)``, ``.numpy()``, ``.tolist()``...), the recorded graph can no longer
stand for the function: that is a *graph break*.  The tracer notes the cause and
the source line and stops recording; the function finishes eagerly.
"""

from __future__ import annotations

import numbers
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _tracing
from ._tracing import user_source
from .dispatch import broadcast, cast
from .ir import BUFFER, PARAM, STATE_ROLE, USER, Graph, TensorType
from .nn.parameter import Parameter
from .ops import OPS, Kind
from .recording.grad_mode import STATE
from .recording.views import view_positions
from .tensor import Tensor, refresh_view
from .trace_gradients import GradientPaths
from .view_replay import scatter_into_base

# A tensor that existed before the call but that no walked path reaches (an iterator's
# next item, a tensor inside an object the walk does not enter): a later call could not
# fetch the tensor the function would use then, nor redo what produced it.
UNLOCATED = "a tensor is reached through no argument, attribute, closure or global the compiler can follow"


class GraphBreakError(RuntimeError):
    """Raised instead of breaking the graph when compiling with ``fullgraph=True``."""


@dataclass(frozen=True)
class GraphBreak:
    """Why and where tracing stopped."""

    cause: str
    source: str | None

    def __str__(self) -> str:
        return f"{self.cause} at {self.source or '<unknown>'}"


def storage(array: np.ndarray) -> int | None:
    """The id of the array that owns ``array``'s memory (the end of its chain of bases),
    or None for memory numpy does not own (a buffer from elsewhere: ``np.frombuffer``, a
    memory map).  Two arrays over memory owned by different arrays never overlap; memory
    from elsewhere might overlap anything."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return id(array) if array.base is None and array.flags.owndata else None


def memory_key(array: np.ndarray) -> int:
    """The array's :func:`storage`, or (memory numpy does not own) the array's own id."""
    key = storage(array)
    return id(array) if key is None else key


def _mark_read(node) -> None:
    """A walked slot the traced code read, with everything under it (a list's items)."""
    node.read = True
    for child in node.children:
        _mark_read(child)


class Tracer(GradientPaths):
    """Records ops into a Graph while the user's code runs eagerly.

    Every tensor an op reads is resolved by :meth:`lookup`: a value recorded
    earlier; a tensor wrapping the very array a recorded value holds (autograd's
    saved outputs, ``.data``); a tensor made during the trace from Python values (a
    constant); or a tensor that existed before the call, which becomes a graph input
    fetched afresh on every call along its source in the pre-call ``snapshot`` (see
    :mod:`irgrad.compiler.state`).  A tensor that existed before but is reached by no
    walked path is bound by identity (``unlocated``): its data is read at every call,
    but rebinding it cannot be seen.
    """

    def __init__(
        self, name: str = "forward", fullgraph: bool = False, snapshot=None, record_values: bool = False
    ) -> None:
        self.graph = Graph(name)
        self.thread = threading.get_ident()  # only this thread's ops are recorded
        self.node_values: dict | None = {} if record_values else None  # node -> eager value (check=True)
        self.fullgraph = fullgraph
        self.snapshot = snapshot
        self.values: dict[int, int] = {}  # id(tensor) -> node id
        self.arrays: dict[int, int] = {}  # id(ndarray) -> node of the value it holds now
        self.holders: dict[int, list] = {}  # id(ndarray) -> the recorded tensors wrapping it
        self.alive: list = []  # keeps recorded tensors and arrays alive, so their ids stay unique
        # recorded tensors by the memory they wrap (see storage): where an in-place write
        # looks for other tensors over that memory, rather than through every alive tensor
        self.by_storage: dict[int | None, list[Tensor]] = {}
        self.born: set[int] = set()  # ids of tensors created while tracing
        self.dependent: set[int] = set()  # nodes whose value depends on an input
        self.input_tensors: list = []
        self.input_versions: list[int] = []  # per graph input: its version counter when bound
        self.sources: list = []  # per graph input: its snapshot node (None for unlocated)
        self.input_node: dict[int, int] = {}  # id(input tensor) -> its input node
        self.mutations: dict[int, int] = {}  # input node -> node holding its new value
        self.unlocated: list[str] = []  # names of inputs bound by identity only
        self.stale: set[int] = set()  # ids of tensors whose memory was written behind their back
        # the memory (see memory_key) of tensors whose layout the traced code depended on
        # beyond their contiguity (see on_layout_read); other tensors' guards do not check
        # their strides
        self.layout_read: set[int] = set()
        # id(tensor) -> the memory of the tensors whose strides its layout follows: an
        # elementwise result keeps its input's memory order (a transposed input's is
        # transposed), a view is laid out over its base (see record)
        self.layout_sources: dict[int, frozenset[int]] = {}
        # (view, its base, its chain of view ops): tensors from before the call whose value
        # the graph derives from their base's (a view read after a write into its base)
        self.derived_views: list[tuple[Tensor, Tensor, tuple]] = []
        self._init_gradient_paths()
        self.graph_break: GraphBreak | None = None
        self.deferrals = None  # irgrad.compiler.deferred.Deferrals: steps run after each compiled call
        self.written: set = set()  # (id(holder), how, key) of slots the traced code wrote (reported)
        self.sealed: set = (
            set()
        )  # ids of objects a deferred step reads: the traced code may not touch them after it
        self._names: set[str] = set()

    # --- binding ------------------------------------------------------------------------
    def bind(self, t: Tensor, name: str, role: str = USER, source=None) -> int:
        name = self._unique(name)
        nid = self.graph.add_input(name, TensorType(tuple(t._data.shape), t.dtype), role)
        self._remember(t, nid)
        self.dependent.add(nid)
        self.input_tensors.append(t)
        self.input_versions.append(t._version)
        self.sources.append(source)
        self.input_node[id(t)] = nid
        return nid

    def _unique(self, name: str) -> str:
        """``name`` as an IR identifier (``opt.state[w]['step']`` -> ``opt.state.w.step``), unique."""
        name = re.sub(r"\['?|'?\]", ".", name)
        name = re.sub(r"\.{2,}", ".", re.sub(r"[^\w.]", "_", name)).strip("._") or "input"
        base, k = name, 1
        while name in self._names:
            k += 1
            name = f"{base}_{k}"
        self._names.add(name)
        return name

    def _remember(self, t: Tensor, nid: int) -> None:
        self.values[id(t)] = nid
        key = id(t._data)
        self.arrays.setdefault(key, nid)
        self.holders.setdefault(key, []).append(t)
        self.alive.append(t)
        self.alive.append(t._data)
        self._index(t)

    def _index(self, t: Tensor) -> None:
        self.by_storage.setdefault(storage(t._data), []).append(t)

    def lookup(self, t: Tensor) -> int:
        """The node holding ``t``'s current value (see the class doc)."""
        if t._base is not None:
            refresh_view(t)  # a stale view is re-derived from its base's current value
        return self._resolve(t)

    def _resolve(self, t: Tensor) -> int:
        """:meth:`lookup` without re-deriving a stale view (for the write path, which
        must not touch autograd's view state in the middle of an in-place op)."""
        if id(t) in self.stale and self.graph_break is None:
            self._break("a tensor is read after an in-place write into memory it shares (a stale alias)")
        nid = self.values.get(id(t))
        if nid is not None:
            return nid
        nid = self.arrays.get(id(t._data))
        if nid is None and id(t) in self.born and self.snapshot is not None:
            owner = self.snapshot.tensor_over(t._data)  # p.data taken before p was read
            if owner is not None and owner is not t:
                nid = self.lookup(owner)
        if nid is not None:  # another tensor object around a recorded array
            if id(t) in self.born and t._node is None and not t._rg:
                nid = self._detached(nid, t)  # p.data: the values without the gradient path
            self._remember(t, nid)
            return nid
        if id(t) in self.born or self.snapshot is None:
            nid = self.graph.add_constant(np.array(t._data, copy=True))
            self._remember(t, nid)
            return nid
        return self._bind_free(t)

    def _detached(self, nid: int, t: Tensor) -> int:
        """A ``detach`` of node ``nid`` for ``t``, a tensor made while tracing around the
        array ``nid``'s value is in, without autograd history (``p.data``): it has no
        gradient path, so neither may its node (in-place writes through it still reach
        the array's other tensors, see :meth:`_set`).  A wrapper that carries a grad_fn
        (autograd's view of a saved output) is the value itself and keeps its node."""
        detached = self.graph.add_op(
            "detach", [nid], {}, TensorType(tuple(t._data.shape), t.dtype), source=user_source()
        )
        if nid in self.dependent:
            self.dependent.add(detached)
        return detached

    def _bind_free(self, t: Tensor) -> int:
        node = self.snapshot.source_of(t)
        if node is None:
            name = f"unlocated_{len(self.unlocated)}"
            self.unlocated.append(name)
            if self.graph_break is None:
                self._break(UNLOCATED)
            return self.bind(t, name, STATE_ROLE, None)
        path = node.path
        role = STATE_ROLE
        if isinstance(t, Parameter):
            role = PARAM
        elif len(path) >= 2 and path[-2] == ("attr", "_buffers"):
            role = BUFFER
        return self.bind(t, self.snapshot.describe(node), role, node)

    def on_lift(self, container, key, index: int | None = None) -> Tensor:
        """A graph input holding the Python number ``container[key]`` (or ``[key][index]``,
        an item of a tuple there: Adam's ``betas``), fetched at every call.

        The walked state must reach it (its node is then guarded on its type only and
        read as an input); otherwise the number is frozen into the graph, guarded as usual.
        """
        value, node = self._slot(container, key, index)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return value  # not a number (None): the update fails on it as eager's does
        if node is None or not isinstance(value, (int, float)):
            return Tensor._wrap(np.asarray(value, dtype=np.float64))
        t = Tensor._wrap(np.asarray(value, dtype=np.float64))
        self.born.discard(id(t))
        node.lifted = True
        self.bind(t, self.snapshot.describe(node), STATE_ROLE, node)
        return t

    def on_test(self, container, key, predicate: Callable[[Any], bool]) -> bool:
        """``predicate(container[key])``, for a Python branch on a value that may be lifted
        (``momentum != 0``): the capture then holds for any value giving the same answer,
        which the guard checks in place of the value."""
        value, node = self._slot(container, key, None, kinds=("value", "seq"))
        result = bool(predicate(value))
        if node is None:
            self._read(container, ("item", key))  # guarded by value
        else:
            node.predicates.append((predicate, result))
        return result

    def _slot(
        self, container, key, index: int | None, kinds: tuple[str, ...] = ("value",)
    ) -> tuple[Any, Any]:
        """The value of ``container[key]`` (``[index]`` of it if given) and its walked
        ``StateNode``, or None where it may not be lifted: a container whose reads go
        unreported (other reads of the number would go unseen), or a value the walk did
        not reach."""
        value = dict.__getitem__(container, key) if isinstance(container, dict) else container[key]
        steps = [("item", key)] + ([] if index is None else [("item", index)])
        if index is not None:
            value = value[index] if isinstance(value, tuple) else None
        node = self.snapshot.first.get(id(container)) if self.snapshot is not None else None
        for step in steps:
            node = next((c for c in node.children if c.step == step), None) if node is not None else None
            if node is not None and node.replayed and self.graph_break is None:
                self._break(f"{self.snapshot.describe(node)} is read after the step that rebinds it")
        if node is None or node.kind not in kinds or not getattr(type(container), "reports_reads", False):
            return value, None
        return value, node

    def on_read_item(self, container, key) -> None:
        """Traced code read ``container[key]`` as a Python value: a lifted number there is
        guarded by its value after all."""
        self._read(container, ("item", key))

    def on_read_attr(self, obj, name: str) -> None:
        """Traced code read ``obj.name`` (a scheduler's attribute)."""
        self._read(obj, ("attr", name))

    def _read(self, holder_obj, step: tuple) -> None:
        """Traced code read a slot (``__dict__``: every attribute): what it holds is guarded
        by value, and reading what a deferred step rebinds after it is a graph break (the
        other slots of its scheduler and groups hold what they held before it)."""
        if (
            id(holder_obj) in self.sealed
            and self.graph_break is None
            and self.deferrals.rebinds(holder_obj, *step)
        ):
            self._break(
                f"traced code reads {type(holder_obj).__name__} state after a scheduler's step rebinds it"
            )
        holder = self.snapshot.first.get(id(holder_obj)) if self.snapshot is not None else None
        if holder is None:
            return
        for child in holder.children:
            if child.step == step or (step == ("attr", "__dict__") and child.step.how == "attr"):
                if child.replayed and self.graph_break is None:
                    self._break(f"{self.snapshot.describe(child)} is read after the step that rebinds it")
                _mark_read(child)

    def on_write(self, holder_obj, step: tuple) -> None:
        """Traced code wrote a slot: writing one a deferred step rebinds, after it, is a graph
        break (the compiled call repeats the step after its replays)."""
        self.written.add((id(holder_obj), *step))
        if id(holder_obj) in self.sealed and self.graph_break is None:
            self._break(f"traced code writes {type(holder_obj).__name__} state after a scheduler's step")
        holder = self.snapshot.first.get(id(holder_obj)) if self.snapshot is not None else None
        if holder is None or self.graph_break is not None:
            return
        for child in holder.children:
            if child.step == step and child.replayed:
                self._break(f"{self.snapshot.describe(child)} is rebound after the step that rebinds it")

    def on_defer(self, obj, run) -> bool:
        """``obj.step()`` (a learning-rate scheduler's), run now and repeated after every
        compiled call instead of being traced, where ``deferrals`` can (see
        :mod:`irgrad.compiler.deferred`); False: the step is traced."""
        return (
            self.graph_break is None and self.deferrals is not None and self.deferrals.defer(self, obj, run)
        )

    # --- hooks called by dispatch and Tensor -------------------------------------------
    def on_create(self, t: Tensor) -> None:
        self.born.add(id(t))
        self.alive.append(t)

    def record(self, op, inputs: tuple, attrs: dict, out: Tensor) -> None:
        if self.graph_break is not None:
            return
        if op.complex and (out._data.dtype.kind == "c" or any(t._data.dtype.kind == "c" for t in inputs)):
            self._break(f"{op.name} of complex values (irgrad compiles real tensors only)")
            return
        if op.view is not None:  # a view's strides, and whether a reshape is one, follow its input's
            self.layout_read |= self._layout_sources(inputs[0])
        if not op.fresh_layout:
            self.layout_sources[id(out)] = frozenset().union(*(self._layout_sources(t) for t in inputs))
        args = [self.lookup(t) for t in inputs]
        nid = self.graph.add_op(
            op.name, args, attrs, TensorType(tuple(out._data.shape), out.dtype), source=user_source()
        )
        if op.kind is Kind.RANDOM or any(a in self.dependent for a in args):
            self.dependent.add(nid)
        self._note_cut(op, inputs, nid)
        self._remember(out, nid)
        if self.node_values is not None:
            self.node_values[nid] = out._data.copy()

    def on_layout_read(self, t: Tensor) -> None:
        """The traced code read ``t``'s strides, address or contiguity, or asked whether a
        view of it can be made: a call whose tensors have other strides may take another
        path, so the guard checks the strides of every tensor over the memory of the
        tensors ``t``'s layout follows (``t`` itself, ``t.data``, the input of ``x * 2``)."""
        self.layout_read |= self._layout_sources(t)

    def _layout_sources(self, t: Tensor) -> frozenset[int]:
        """The memory of the tensors ``t``'s layout follows (see layout_sources): its own
        and, for a result of the traced code, its inputs' through every op but those
        whose results are laid out afresh (OpDef.fresh_layout)."""
        own = memory_key(t._data)
        return self.layout_sources.get(id(t), frozenset()) | {own}

    def on_materialize(self, t: Tensor, what: str) -> None:
        self.layout_read |= self._layout_sources(t)  # (numpy() shares the array, strides and all)
        if self.graph_break is not None:
            return
        nid = self.lookup(t)
        if nid not in self.dependent:
            return  # a constant's value is known at trace time: reading it is fine
        self._break(f"{what} reads the value of a traced tensor (data-dependent Python)")

    def on_array_read(self, array: np.ndarray) -> None:
        """A tensor made from a numpy array is a constant of the graph: right while the guard
        sees the array unchanged.  One over the memory of a large array of the walked state,
        which the guard compares by identity only (a dataset shuffled in place), would keep
        the values of the traced call: a graph break."""
        if self.graph_break is None and self.snapshot is not None:
            large = self.snapshot.large_arrays()
            through: object = array  # the array, and the arrays (or buffers) it views
            while through is not None:
                if id(through) in large:
                    self._break(
                        "a tensor is made from a large numpy array, which the guard compares by identity only"
                    )
                    return
                through = getattr(through, "base", None)

    def on_untraceable(self, what: str) -> None:
        """Library code is about to compute on tensor data outside the op registry."""
        if self.graph_break is None:
            self._break(f"{what} cannot be recorded")

    def on_alias(self, new: Tensor, old: Tensor) -> None:
        """``new`` (a copy made outside the registry, e.g. an in-place op's snapshot) holds ``old``'s value."""
        if self.graph_break is None:
            self._remember(new, self.lookup(old))

    def on_rebind(self, t: Tensor, fresh: Tensor) -> None:
        """``t``'s value is now what ``fresh`` holds (a view re-derived from its base)."""
        if self.graph_break is None:
            if id(t) not in self.born and t._view is not None:  # the graph relies on t being that view
                self.derived_views.append((t, t._base, t._view[0]))
            self.stale.discard(id(t))
            self.values[id(t)] = self.lookup(fresh)
            self.alive.append(t)
            self._index(t)

    def on_storage(self, t: Tensor) -> None:
        """``t`` wraps another array now (``t.data = x``).  A tensor the traced code made,
        given an array the graph holds, holds that array's value from here on (and is
        found by its memory: an entry under its old memory stays, filtered out when that
        memory is written).  Any other such change is a side effect the graph cannot
        follow (a parameter made a view of a vector by ``vector_to_parameters``, an array
        no op made): a graph break."""
        if self.graph_break is not None:
            return
        nid = self.arrays.get(id(t._data))
        if nid is None or id(t) not in self.born:
            self._break("a tensor is given other storage (`t.data = x`), which a compiled call cannot repeat")
            return
        self._remember(t, nid)

    def on_inplace(self, target: Tensor, new: Tensor) -> None:
        """``target``'s storage now holds ``new``'s value (an in-place op or setitem).

        A write into a view also changes its base: the base's new value is its old one
        with the view's elements replaced (recorded as ops), and the base's other views
        are re-derived from it when next used (their version counter tells them).
        """
        self.layout_read |= self._layout_sources(target)  # (what a write overlaps follows the strides)
        if self.graph_break is not None:
            return
        with_gradient = new._rg
        if new._data.shape != target._data.shape or new._data.dtype != target._data.dtype:
            new = self._conformed(new, target)  # the write broadcasts and casts: so must the graph
        if not STATE.enabled:  # a no_grad write is invisible to autograd:
            if target._rg:  # the gradient still reaches what the target was
                new = self._rebound(new, target)
            elif with_gradient:  # the target gets the values, without their gradient path
                new = self._without_gradient(new)
        nid = self.lookup(new)
        base = target._base
        if base is not None:
            if target._view is None:
                self._break("an in-place write into a view made by view(dtype)")
                return
            self._write_through_view(target, base, new)
        else:
            # Tensors over the same memory that _set does not update (views of another tensor
            # around this array: ``p.t()`` when ``p.data`` is written) now hold stale values.
            self.stale.update(
                id(t)
                for t in self._aliases_of(target)
                if t._data is not target._data
                and t._base is not target
                and np.may_share_memory(t._data, target._data)
            )
        self._set(target, nid, new)

    def _without_gradient(self, new: Tensor) -> Tensor:
        """``new``'s value with no gradient path (a ``detach``)."""
        out = Tensor._wrap(new._data)
        self.record(OPS["detach"], (new,), {}, out)
        return out

    def _rebound(self, new: Tensor, target: Tensor) -> Tensor:
        """``new``'s value with ``target``'s gradient path (the ``rebind`` op): after an
        in-place write under no_grad, PyTorch's gradient still reaches what ``target`` was."""
        out = Tensor._wrap(new._data)
        self.record(OPS["rebind"], (new, target), {}, out)
        return out

    def _conformed(self, new: Tensor, target: Tensor) -> Tensor:
        """``new`` cast to ``target``'s dtype and broadcast to its shape, as recorded ops
        (leading size-1 dims beyond the target's rank dropped first, as an assignment does:
        ``m[-1, -1:] = x`` with ``x`` of shape [1, 1] into a [1] slice)."""
        shape = tuple(target._data.shape)
        with self._recording_own_ops():
            extra = new._data.ndim - len(shape)
            if extra > 0 and all(d == 1 for d in new._data.shape[:extra]):
                new = new.reshape(new._data.shape[extra:])
            return broadcast(cast(new, target.dtype), shape)

    def _aliases_of(self, target: Tensor) -> list:
        """The recorded, input-dependent tensors that may wrap ``target``'s memory: those
        indexed under its storage and under foreign memory (all of them when ``target``'s
        own memory is foreign).  Callers test the overlap itself."""
        key = storage(target._data)
        if key is None:
            groups = list(self.by_storage.values())
        else:
            groups = [self.by_storage.get(key, ()), self.by_storage.get(None, ())]
        return [t for group in groups for t in group if self.values.get(id(t)) in self.dependent]

    def _write_through_view(self, view: Tensor, base: Tensor, new: Tensor) -> None:
        self.lookup(base)
        positions = view_positions(view)
        with self._recording_own_ops():
            new_base = scatter_into_base(base, positions, new)
        if base._rg and (not STATE.enabled or not view._rg):
            # a write autograd does not see (under no_grad, or through an alias without the
            # base's gradient: ``x.detach().add_(1)``) leaves the base's gradient path as it was
            new_base = self._rebound(new_base, base)
        self._set(base, self.lookup(new_base), new_base)

    def _set(self, target: Tensor, nid: int, new: Tensor) -> None:
        """``target``'s storage now holds node ``nid`` (``new``'s value): so does every tensor
        wrapping the same array.  A tensor that requires grad, written through an alias that
        does not (``x.detach()[...] = v``, ``x.data.zero_()``), keeps its gradient path, as
        in PyTorch: its new value is recorded as ``rebind(new, old)``."""
        self._resolve(target)  # a free tensor only ever written is bound, so the write is kept
        key = id(target._data)
        self.arrays[key] = nid
        for t in list(self.holders.get(key, ())):
            value = nid
            if t is not target and t._rg and not target._rg:
                value = self.lookup(self._rebound(new, t))
            self.values[id(t)] = value
            if id(t) in self.input_node:
                self.mutations[self.input_node[id(t)]] = nid

    def _break(self, cause: str) -> None:
        self.graph_break = GraphBreak(cause, user_source())
        if self.fullgraph:
            raise GraphBreakError(f"graph break with fullgraph=True: {self.graph_break}")

    # --- running ------------------------------------------------------------------------
    def __enter__(self) -> Tracer:
        if _tracing.ACTIVE is not None:
            raise RuntimeError("irgrad.trace: tracing is already active (nested tracing is not supported)")
        _tracing.ACTIVE = self
        return self

    def __exit__(self, *exc) -> None:
        _tracing.ACTIVE = None
