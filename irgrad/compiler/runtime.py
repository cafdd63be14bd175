"""Running a compiled call: its graph, its write-backs and replays, and autograd.

One call fetches its input tensors (the guard did, along their sources), runs the
forward executable on their arrays, writes in-place updates back into the tensors
they belong to, wraps the returned and stored values as tensors, replays the
call's rebindings (``.grad``, attributes, new optimizer state) and, when gradients
are needed, gives the returned tensors a ``grad_fn`` that runs the backward graph.
"""

from __future__ import annotations

import numpy as np

from .. import _tracing
from ..autograd.engine import edge_needed
from ..dispatch import apply
from ..ir import Graph, node_values
from ..ir.interpreter import input_sizes
from ..ir.symbolic import resolve
from ..ops import OPS
from ..recording.grad_fn import FREED_MESSAGE, GradFn, check_versions, edge_of, version_of
from ..recording.grad_mode import no_grad
from ..recording.views import NO_GRAD_VIEW
from ..tensor import Tensor
from ..utils.pytree import unflatten
from . import effects
from .state import follow


def checked_run(graph: Graph, arrays: list, sizes: dict | None = None) -> list:
    """``graph`` run node by node with every value checked for NaN and inf (``debug_nans``)."""

    def check(node, value, args) -> None:
        _tracing.check_finite(f"{node.op} in the compiled {graph.name} graph", value, node.source, args)

    values = node_values(graph, arrays, check, sizes)
    return [values[o] for o in graph.outputs]


class CompiledBackward(GradFn):
    """The grad_fn of a compiled forward's outputs: runs the compiled backward graph."""

    def __init__(
        self,
        built,
        wrt: list,
        saved: list,
        inputs: list,
        out_meta: list,
        sizes: dict,
        released_below: dict | None = None,
    ) -> None:
        self.built = built
        self.sizes = sizes  # the forward's symbol sizes, which the backward's inputs may not carry
        self.saved = saved
        # the inputs whose memory a saved value shares (a weight the backward multiplies
        # by): modified in place before the backward runs, they would change its result,
        # so it raises as eager's does (which checks the tensors it saved)
        by_owner: dict[int, list] = {}
        for a in saved:
            by_owner.setdefault(id(_owner(a)), []).append(a)
        self.watched = tuple(
            t
            for t in inputs
            if any(np.may_share_memory(a, t._data) for a in by_owner.get(id(_owner(t._data)), ()))
        )
        self.versions = tuple(version_of(t) for t in self.watched)
        self.edges = tuple(edge_of(inputs[i]) for i in wrt)
        # per output: the edges whose eager gradient path went through a node a backward
        # inside the call freed (Capture.released_below): needing one raises, as in eager
        self.released_edges = {
            k: [j for j, i in enumerate(wrt) if i in positions]
            for k, positions in (released_below or {}).items()
        }
        self.n_outputs = len(out_meta)
        self.out_meta = out_meta
        self.hooks = None
        self.retained = None
        self.freed = False

    def name(self) -> str:
        return "CompiledFunctionBackward"

    def apply(self, grads: list, F, as_tensors: bool, release: bool = False) -> tuple:
        """Run the compiled backward graph on the saved values and output gradients."""
        if as_tensors:
            raise RuntimeError(
                "irgrad.compile: differentiating a compiled backward (create_graph=True) is not "
                "supported; compile with backend='eager' for higher-order gradients"
            )
        if self.freed:
            raise RuntimeError(FREED_MESSAGE)
        for k, edges in self.released_edges.items():
            if grads[k] is not None and any(edge_needed(self.edges[j]) for j in edges):
                raise RuntimeError(FREED_MESSAGE)
        check_versions(self, self.watched, self.versions)
        seeds = [
            g if g is not None else np.zeros(shape, dtype) for g, (shape, dtype) in zip(grads, self.out_meta)
        ]
        arrays = self.saved + seeds
        graph, run_backward = self.built.backward, self.built.run_backward
        absent = frozenset(k for k, g in enumerate(grads) if g is None and self.built.seeded[k])
        if absent:  # outputs no gradient reaches: their paths are dropped, not multiplied by 0
            graph, run_backward = self.built.backward_without(absent)
        if _tracing.DEBUG_NANS:
            grads_in = tuple(checked_run(graph, arrays, self.sizes))
        elif self.sizes:
            grads_in = tuple(run_backward(arrays, self.sizes))
        else:
            grads_in = tuple(run_backward(arrays))
        if release:
            self.saved = []
            self.freed = True
        reach = self.built.reach
        if reach:
            reached = set().union(*(reach[k] for k, g in enumerate(grads) if g is not None))
            if len(reached) < len(grads_in):  # inputs no backpropagated output depends on
                grads_in = tuple(g if j in reached else None for j, g in enumerate(grads_in))
        return grads_in


def _owner(array) -> object:
    """The object owning ``array``'s memory (numpy points every view at it)."""
    base = getattr(array, "base", None)
    return array if base is None else base


class ReleasedBackward(GradFn):
    """The grad_fn of a returned value whose graph a backward inside the compiled call
    already ran through (``loss.backward()`` then ``return loss``): as eager's released
    graph, it raises if differentiated again, so no backward graph is built for it."""

    def __init__(self) -> None:
        self.edges = ()
        self.hooks = None
        self.retained = None
        self.freed = True

    def name(self) -> str:
        return "CompiledFunctionBackward"

    def apply(self, grads: list, F, as_tensors: bool, release: bool = False) -> tuple:
        raise RuntimeError(FREED_MESSAGE)


def _is_storage(value: np.ndarray, storage: np.ndarray) -> bool:
    """Whether ``value`` is ``storage`` itself (same memory, same layout)."""
    return value is storage or (
        value.__array_interface__["data"][0] == storage.__array_interface__["data"][0]
        and value.shape == storage.shape
        and value.strides == storage.strides
        and value.dtype == storage.dtype
    )


def returned_tensor(kind: str, where, inputs: list, outputs: list) -> Tensor:
    """A returned tensor (see ``Capture.returned``): an input, a graph output, a view of
    an input, derived from it again by the view ops that made it (so it aliases the input,
    with eager autograd, as eager's does), or an input's ``detach()`` or ``.data``."""
    if kind == "input":
        return inputs[where]
    if kind == "output":
        return outputs[where]
    if kind == "alias":
        position, detached = where
        return apply(OPS["detach"], (inputs[position],)) if detached else inputs[position].data
    position, chain = where
    return _derived(inputs[position], chain)


def _derived(base: Tensor, chain: tuple) -> Tensor:
    """The view of ``base`` the view ops ``chain`` make."""
    for op, attrs in chain:
        base = apply(op, (base,), attrs)
    return base


def _output_view(base: Tensor, chain: tuple, reason: str | None) -> Tensor:
    """A value output eager made as a view of another one or of an input
    (``Capture.views``), derived from it: under no_grad if eager's was made there (it has no gradient path), and
    refusing in-place ops where eager's does (one of split's outputs)."""
    if reason != NO_GRAD_VIEW:
        out = _derived(base, chain)
    else:
        with no_grad():
            out = _derived(base, chain)
    if reason is not None:
        out._view = out._view[:2] + (reason,)
    return out


def run(entry, roots: tuple, inputs: list):
    """One compiled call of ``entry`` (a cached graph whose guard returned ``inputs``)."""
    capture, built = entry.capture, entry.built
    arrays = [t._data for t in inputs]
    results = checked_run(built.forward, arrays) if _tracing.DEBUG_NANS else built.run_forward(arrays)
    n = capture.n_values
    mutated = capture.mutated
    for k in built.saved_before_write:  # the backward must see what the forward read
        results[n + len(mutated) + k] = results[n + len(mutated) + k].copy()
    for pos, value in zip(mutated, results[n : n + len(mutated)]):
        target = inputs[pos]
        if not _is_storage(value, target._data):  # a native program may have written it in place
            np.copyto(target._data, value)
        if pos not in capture.unversioned:
            target._bump_version()
    copied = built.copied_outputs
    wrap = Tensor._wrap
    if copied:
        tensors = [wrap(a.copy() if k in copied else a) for k, a in enumerate(results[:n])]
    else:
        tensors = [wrap(a) for a in results[:n]]
    if built.wrt:  # (under no_grad too: values made in an enable_grad() block)
        saved = list(results[n + len(mutated) :])
        out_meta = [(a.shape, a.dtype) for a in results[:n]]
        sizes = input_sizes(built.forward, arrays) if entry.symbols else {}
        node = CompiledBackward(built, built.wrt, saved, inputs, out_meta, sizes, capture.released_below)
        for k, t in enumerate(tensors):
            if capture.differentiated[k]:
                t._node, t._out_nr, t._rg = node, k, True
    if any(capture.released):
        for k, released in enumerate(capture.released):
            if released:  # its backward already ran in the call: another one raises, as eager's
                tensors[k]._node, tensors[k]._out_nr, tensors[k]._rg = ReleasedBackward(), 0, True
    views = resolve(built.views, input_sizes(built.forward, arrays)) if built.views else capture.views
    for k, ((kind, i), chain, reason) in views.items():
        tensors[k] = _output_view(inputs[i] if kind == "input" else tensors[i], chain, reason)
    leaves = [returned_tensor(kind, where, inputs, tensors) for kind, where in capture.returned]
    # found before the replays, which may rebind a slot on the way to one (the traced call
    # stepped the scheduler that was there when it called step())
    schedulers = [follow(roots, deferred.holder.path) for deferred in capture.deferred]
    if capture.replays:
        index = entry.tensor_index

        def tensor_of(nid: int) -> Tensor:
            kind, i = index[nid]
            return inputs[i] if kind == "input" else tensors[i]

        holders = [None if i is None else inputs[i] for i in entry.replay_holders]
        effects.apply(capture.replays, tensor_of, roots, holders)
    for scheduler in schedulers:  # after the replays: the traced call made it last
        scheduler.step()
    return unflatten(capture.output_spec, leaves)
