"""Dynamic shapes: one symbolic graph for every size of the dimensions that vary.

Which dimensions become symbols: those marked with ``mark_dynamic``, and with
``dynamic=True`` those of the arguments whose size changed between calls (PyTorch's
"automatic dynamic": only dimensions that really vary).  The graph is traced again
with each symbol's size increased by one, and once with all of them increased by
two; :func:`irgrad.ir.symbolic.generalize` merges the graphs when they are the same
program with sizes affine in the symbols.  Anything else (a probe that raises, breaks
or builds another program) means a graph per size, never an error.  Three probes cannot
see Python branching on a size (``if len(x) < 8``), so a symbolic graph serves a new size
only once a trace of the call there has given its program (:func:`same_program`).

Probes re-run the user's function, so everything a call changes is put back after each
probe: every tensor the function reaches (its state walked as a call's is), the tensors
the call made and left in the slots it rebinds (a fresh ``.grad``, an optimizer's new
state), the random generator, and what it rebinds (a training step's ``.grad``, an
optimizer's state, a scheduler's counters).  A probe must
rebind what the call did, to the same graph values.  A symbolic graph serves sizes of at least 2: sizes 0 and 1
change what many programs do (broadcasting, ``squeeze``) and get graphs of their own,
as in PyTorch.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np

from ..ir import Graph
from ..ir.graph import CONSTANT
from ..ir.symbolic import (
    generalize,
    generalize_value,
    is_size_constant,
    resolve,
    resolved_shape,
    same_constant,
    size_constant_value,
)
from ..passes.cse import attribute_key
from ..passes.pipeline import Dumper, PipelineReport
from ..random import get_rng_state, set_rng_state
from ..tensor import Tensor
from ..utils.pytree import flatten, unflatten
from . import state, state_changes
from .build import Built, build
from .capture import Capture, capture
from .sources import delete, read, write
from .state_changes import MISSING


class SizeChecks:
    """When the first call at sizes a symbolic graph has not run at is traced, to check
    that its program is the graph's there (:func:`same_program`).

    A check costs a traced call: several eager calls' time (a small GPT's forward: about
    70x), paid once per size, which pays back when sizes repeat (batches, bucketed
    lengths).  A generation loop grows its sequence by a token each call: no size
    repeats, and a check at each would make the compiled model that much slower than
    eager.  So after :data:`IN_A_ROW` calls at new sizes with none at a checked size
    between, the first call at a new size runs eagerly, untraced, and the size is
    checked when it comes again (served natively from its third call on)."""

    IN_A_ROW = 4
    MOST_REMEMBERED = 4096  # sizes run once, untraced, kept to be checked at their next call

    def __init__(self) -> None:
        self.in_a_row = 0  # calls at new sizes since the last call at checked ones
        self.untraced = 0  # calls that ran eagerly, untraced, so far
        self._once: dict[tuple, None] = {}

    def served(self) -> None:
        """A call at checked sizes ran natively."""
        self.in_a_row = 0

    def check_now(self, sizes: tuple) -> bool:
        """Whether to check the new ``sizes`` at this call (else it runs eagerly, untraced)."""
        self.in_a_row += 1
        if self.in_a_row <= self.IN_A_ROW:
            return True
        if sizes in self._once:  # its second call
            del self._once[sizes]
            return True
        self._once[sizes] = None
        if len(self._once) > self.MOST_REMEMBERED:
            del self._once[next(iter(self._once))]
        self.untraced += 1
        return False


def _is_tensor(x) -> bool:
    return isinstance(x, Tensor)


class _Marks:
    """The dims ``mark_dynamic`` marked, per tensor, kept beside the tensor (not in it) and
    forgotten when it dies."""

    def __init__(self) -> None:
        self._marks: dict[int, tuple[weakref.ref, frozenset]] = {}

    def add(self, t: Tensor, dim: int) -> None:
        key = id(t)
        dims = self.get(t) | {dim}
        self._marks[key] = (weakref.ref(t, lambda _, key=key: self._marks.pop(key, None)), frozenset(dims))

    def get(self, t: Tensor) -> frozenset:
        entry = self._marks.get(id(t))
        return entry[1] if entry is not None and entry[0]() is t else frozenset()


MARKS = _Marks()


def mark_dynamic(t: Tensor, dim: int) -> Tensor:
    """Mark dimension ``dim`` of ``t`` as dynamic: compiled code will not specialise on its size."""
    MARKS.add(t, dim % max(t.ndim, 1))
    return t


def marked_dims(leaves: list) -> list[tuple[int, int]]:
    """(leaf position, dim) of every dimension marked with ``mark_dynamic``."""
    found = []
    for pos, t in enumerate(leaves):
        found += [(pos, d) for d in sorted(MARKS.get(t))]
    return found


# The largest tensor a probe's restore copies that the call neither read nor made.
UNREAD_COPIED_BYTES = 1 << 24


class _Restore:
    """Put back, after a probe, what the call it repeats changes: the random generator, the
    slots the call rebinds (the probe's own rebindings too, where they differ:
    :meth:`undo`), and the contents of every tensor a probe may write in place: the
    tensors the function reaches (its state walked as a call's is: a probe at another
    size may write one the call did not; up to :data:`UNREAD_COPIED_BYTES` each), the
    call's arguments (a probe's argument that is not resized shares its memory), the
    tensors the call read, and those it made and left in the slots it rebinds.  A probe repeats a training step whose call has just
    made ``.grad`` or an optimizer's state: its ``backward()`` accumulates into that
    ``.grad``, its ``step()`` updates that state, in place."""

    def __init__(self, fn, base: Capture, arguments: list) -> None:
        self.fn = fn
        self.tensors = [*arguments, *base.inputs]
        self.slots = [(replay.holder.obj, replay.step) for replay in base.replays]
        self.slots += [(node.obj, step) for deferred in base.deferred for node, step in deferred.rebound]

    def __enter__(self) -> _Restore:
        self.rng = get_rng_state()
        self.held = [(holder, step, _held(holder, step)) for holder, step in self.slots]
        reached = (node.obj for node in state.walk(self.fn, (), {}).tensors.values())
        # (one the call neither read nor made is copied up to a size: a dataset the
        # function can reach is not copied for a write only Python branching could make)
        tensors = {id(t): t for t in reached if t._data.nbytes <= UNREAD_COPIED_BYTES}
        tensors.update((id(t), t) for t in self.tensors)
        for _, _, value in self.held:
            tensors.update((id(t), t) for t in _tensors_in(value))
        self.saved = [(t, t._data.copy(), t._version) for t in tensors.values() if t._data.flags.writeable]
        return self

    def undo(self, probe: Capture) -> None:
        """Rebind what ``probe`` rebound, from the state its snapshot walked before it ran."""
        rebound, _ = state_changes.changes(probe.snapshot)
        for change in rebound:
            holder = change.holder.obj
            if change.old is not None:
                write(holder, change.step, change.old.obj)
            elif change.step.key == slice(None):  # a list's items replaced
                write(holder, change.step, [child.obj for child in change.holder.children])
            elif change.new is not MISSING:  # a new slot
                delete(holder, change.step)

    def __exit__(self, *exc) -> None:
        set_rng_state(self.rng)
        for t, values, version in self.saved:
            np.copyto(t._data, values)
            if t._vc is not None:
                t._vc[0] = version
        for holder, step, value in self.held:
            if value is not MISSING:
                write(holder, step, value)
            elif _held(holder, step) is not MISSING:
                delete(holder, step)


def _tensors_in(value) -> list[Tensor]:
    """The tensors ``value`` is or holds, through dicts, lists and tuples (an optimizer's
    per-parameter state), and each tensor's ``.grad``."""
    tensors, _ = flatten(value, _is_tensor)
    return tensors + [t._grad for t in tensors if t._grad is not None]


def _held(holder, step):
    """What ``holder`` holds at ``step``, or MISSING."""
    try:
        return read(holder, step)
    except (KeyError, IndexError, AttributeError):
        return MISSING


def _rebinds_alike(base: Capture, probe: Capture) -> bool:
    """Whether two captures rebind the same slots to the same kinds of value, graph values
    at the same positions among their inputs and outputs."""

    def canonical(capture: Capture) -> list:
        position = {nid: ("input", i) for i, nid in enumerate(capture.graph.inputs)}
        for k, nid in enumerate(capture.graph.outputs):
            position.setdefault(nid, ("output", k))

        def recipe(r) -> tuple:
            payload = position.get(r.payload) if r.kind == "node" else r.payload
            if r.kind == "existing":
                payload = r.payload.path
            return (r.kind, payload, tuple(recipe(p) for p in r.parts))

        deferred = [("deferred", d.holder.path) for d in capture.deferred]
        return [(replay.where, recipe(replay.recipe)) for replay in capture.replays] + deferred

    try:
        return canonical(base) == canonical(probe)
    except TypeError:  # a payload that cannot be compared
        return False


def symbolic(
    fn,
    args: tuple,
    kwargs: dict,
    base: Capture,
    built: Built,
    dims: list,
    backend,
    name: str,
    dumper: Dumper | None = None,
) -> tuple[Built, list[tuple[str, int, int]], Graph, list[tuple]] | str:
    """A symbolic version of ``built`` for ``dims``, its symbols ``(name, leaf, dim)``, the
    symbolic trace (see :func:`same_program`) and the sizes of the probes (where it is
    right by construction), or the reason there is none.  ``dumper`` writes what the
    backend builds for the symbolic graphs."""
    leaves, spec = flatten((args, kwargs), _is_tensor)
    base_sizes = sorted({leaves[p]._data.shape[d] for p, d in dims})
    if any(s < 2 for s in base_sizes):
        return "a size below 2 is specialised"
    for p, _ in dims:  # (the guard cannot check strides that move with the sizes)
        node = base.snapshot.tensors.get(id(leaves[p]))
        if node is not None and node.info[6] is not None and not node.info[4]:
            return "the function reads the layout of a non-contiguous tensor of a dynamic size"
    symbols = ["B" if i == 0 else f"B{i}" for i in range(len(base_sizes))]
    symbol_of = dict(zip(base_sizes, symbols))
    probes = [[s + (1 if j == i else 0) for j, s in enumerate(base_sizes)] for i in range(len(base_sizes))]
    probes.append([s + 2 for s in base_sizes])
    builts = [built]
    traces = [base.graph]
    captures = [base]
    for sizes in probes:
        resize = dict(zip(base_sizes, sizes))
        new_leaves = [
            _resized(t, [(d, resize[t._data.shape[d]]) for p, d in dims if p == pos])
            for pos, t in enumerate(leaves)
        ]
        new_args, new_kwargs = unflatten(spec, new_leaves)
        try:
            with _Restore(fn, base, leaves) as restore:
                probe = capture(fn, tuple(new_args), dict(new_kwargs), name=name)
                restore.undo(probe)
        except Exception as exc:
            return f"the function raised {type(exc).__name__} at another size"
        if probe.graph_break is not None:
            return "a probe at another size broke the graph"
        if not _same_call(probe, base):
            return "the program differs between sizes"
        if not _rebinds_alike(base, probe):
            return "the function rebinds other state at another size"
        traces.append(probe.graph)
        captures.append(probe)

        try:
            builts.append(build(probe, backend, Dumper(None), PipelineReport()))
        except Exception as exc:  # the program is valid at another size only eagerly: one graph per size
            return f"its graphs cannot be built at another size ({type(exc).__name__})"
    traced = generalize(traces, symbols, base_sizes)
    forward = generalize([b.forward for b in builts], symbols, base_sizes)
    backward = (
        generalize([b.backward for b in builts], symbols, base_sizes) if built.backward is not None else None
    )
    if traced is None or forward is None or (built.backward is not None and backward is None):
        return "the program differs between sizes"
    if any(b.wrt != built.wrt or b.n_saved != built.n_saved for b in builts):
        return "the program differs between sizes"
    views = _symbolic_views(captures, symbols, base_sizes)
    if views is None:
        return "the program differs between sizes"
    # the updates the runtime copies into their inputs, which the program may write there itself
    write_backs = {base.n_values + i: position for i, position in enumerate(base.mutated)}
    run_forward, forward_report = backend.build(forward, dumper, write_backs)
    result = Built(
        forward=forward,
        run_forward=run_forward,
        backward=backward,
        wrt=built.wrt,
        n_saved=built.n_saved,
        copied_outputs=built.copied_outputs,
        reach=built.reach,
        saved_before_write=built.saved_before_write,
        reports={"forward": forward_report},
        views=views,
        backend=backend,
        seeded=built.seeded,
    )
    if backward is not None:
        result.run_backward, result.reports["backward"] = backend.build(backward, dumper)
    symbols_of_dims = [(symbol_of[leaves[p]._data.shape[d]], p, d) for p, d in dims]
    probed = [
        tuple(dict(zip(base_sizes, sizes))[leaves[p]._data.shape[d]] for p, d in dims) for sizes in probes
    ]
    return result, symbols_of_dims, traced, probed


def same_program(
    traced: Graph,
    base: Capture,
    call: Capture,
    sizes: dict[str, int],
    built: Built | None = None,
    call_graphs: Callable[[], tuple] | None = None,
) -> bool:
    """Whether ``call``, a trace at ``sizes``, is the symbolic trace ``traced`` (made from
    ``base`` and its probes) at those sizes, and (given the symbolic ``built``) whether
    what the passes make of it, ``call_graphs()`` (forward, backward: asked for only once
    the trace matches), is ``built``'s graphs at those sizes.

    Three probes cannot see Python branching on a size (``if len(x) < 8``,
    ``x[:min(L, 16)]``): a symbolic graph is trusted at a size only once a trace there
    has given the same program, ops, attributes and constants.  Nor can they see the
    passes fold a size non-affinely: ``clamp(B, max=8)`` is 5, 6, 7 at the probes, and
    ``B // 4`` is 2, 2, 2; the built graphs are compared too."""
    if call.graph_break is not None:
        return False
    if not _same_call(call, base):
        return False
    if built is not None and built.views is not None and resolve(built.views, sizes) != call.views:
        return False
    if not _rebinds_alike(base, call) or not _same_graph(traced, sizes, call.graph):
        return False
    if built is None:
        return True
    forward, backward = call_graphs()
    if not _same_graph(built.forward, sizes, forward):
        return False
    if (backward is None) != (built.backward is None):
        return False
    return backward is None or _same_graph(built.backward, sizes, backward)


def _same_graph(symbolic: Graph, sizes: dict[str, int], static: Graph) -> bool:
    """Whether the ``symbolic`` graph at ``sizes`` (what ``specialize`` makes of it, read
    node by node without making it) is the ``static`` one's program: ops, roles,
    arguments, types, attributes (by type and value: 1, 1.0 and True differ, as do 0.0
    and -0.0) and constants (the signs of their zeros too), fused bodies alike, and
    outputs."""
    orders = symbolic.order(), static.order()
    if len(orders[0]) != len(orders[1]) or len(symbolic.outputs) != len(static.outputs):
        return False
    position = [{nid: k for k, nid in enumerate(order)} for order in orders]
    for a, b in zip(*orders):
        x, y = symbolic.node(a), static.node(b)
        if [position[0][n] for n in symbolic.args(a)] != [position[1][n] for n in static.args(b)]:
            return False
        if not _same_node(x, sizes, y):
            return False
    return [position[0][n] for n in symbolic.outputs] == [position[1][n] for n in static.outputs]


def _same_node(x, sizes: dict[str, int], y) -> bool:
    """:func:`_same_graph` for one node of each (see ``ir.symbolic.specialize``: a node
    computing a constant from the sizes is that constant)."""
    if x.role != y.role or x.type.dtype != y.type.dtype:
        return False
    if is_size_constant(x):
        value = size_constant_value(x, sizes)
        return (
            y.op == CONSTANT
            and y.value is not None
            and same_constant(value, y.value)
            and y.type.shape == value.shape
        )
    if x.op != y.op or resolved_shape(x.type.shape, sizes) != y.type.shape:
        return False
    if x.value is not None or y.value is not None:
        if x.value is None or y.value is None or not same_constant(x.value, y.value):
            return False
    elif attribute_key(resolve(x.attrs, sizes)) != attribute_key(y.attrs):
        return False
    return (x.body is None) == (y.body is None) and (x.body is None or _same_graph(x.body, sizes, y.body))


def _same_call(one: Capture, other: Capture) -> bool:
    """Whether two calls return and write the same besides their graphs' values: which
    values, and the returned structure with its Python numbers (a returned
    ``x.shape[0]`` differs between sizes; a structure that cannot be compared differs)."""
    if (one.returned, one.mutated, one.n_values) != (other.returned, other.mutated, other.n_values):
        return False
    if _view_ops(one.views) != _view_ops(other.views):
        return False
    try:
        return bool(one.output_spec == other.output_spec)
    except Exception:  # (a returned numpy array compares element by element)
        return False


def _view_ops(views: dict) -> dict:
    """``Capture.views`` without the view ops' attributes (which differ between sizes)."""
    return {k: (base, tuple(op for op, _ in chain), reason) for k, (base, chain, reason) in views.items()}


def _symbolic_views(captures: list[Capture], symbols: list[str], base_sizes: list[int]) -> dict | None:
    """The views of the captures at the probe sizes (alike but for their attributes) as
    one symbolic ``Capture.views``, or None where an attribute is not affine in the sizes."""
    views = {}
    for k, (base, chain, reason) in captures[0].views.items():
        ops = []
        for i, (op, _) in enumerate(chain):
            affine, attrs = generalize_value([c.views[k][1][i][1] for c in captures], symbols, base_sizes)
            if not affine:
                return None
            ops.append((op, attrs))
        views[k] = (base, tuple(ops), reason)
    return views


def _resized(t: Tensor, changes: list) -> Tensor:
    """A leaf like ``t`` with the given dims resized, its data tiled or cropped from t's."""
    data = t._data
    for d, size in changes:
        data = np.take(data, np.arange(size) % max(data.shape[d], 1), axis=d)
    out = Tensor._wrap(np.ascontiguousarray(data))
    out._rg = t._rg
    return out
