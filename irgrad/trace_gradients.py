"""What a traced graph must respect when its backward runs after the call.

A compiled call whose returned value requires grad gets its gradients from autodiff of
the recorded graph.  The recording must then carry eager's gradient paths exactly:

* a value computed under ``no_grad`` (or ``inference_mode``) from one that requires grad
  has none in eager code: such nodes get a ``detach`` their users read
  (:meth:`GradientPaths.cut_gradient_paths`);
* backward code the traced call set up itself (a hook on a tensor it made,
  ``retain_grad``, a custom ``autograd.Function``'s backward) would not run in a graph's
  backward, and a leaf made in the call (``torch.ones(3, requires_grad=True)``) would be
  a constant: such a call is a graph break.

When the backward runs inside the call (a whole training step), all of this was traced
as ops and nothing here applies.  :class:`irgrad.trace.Tracer` mixes this in;
:mod:`irgrad.compiler.capture` calls the checks when it finishes a trace.
"""

from __future__ import annotations

import contextlib

from .recording.grad_mode import STATE, no_grad
from .tensor import Tensor


class GradientPaths:
    """The tracer's record of gradient paths eager code cut, and of backward code it set up."""

    def _init_gradient_paths(self) -> None:
        # nodes computed under no_grad from a tensor that requires grad (see record)
        self.cut: set[int] = set()
        self.custom_backward: list[str] = []  # backward code the traced call set up (hooks...)
        self._own_ops = 0  # >0 while the tracer records ops of its own (under no_grad, not cut)

    @contextlib.contextmanager
    def _recording_own_ops(self):
        """no_grad for ops the tracer records itself (a base's new value after a write into
        its view, a write's broadcast): their gradient paths are autodiff's, never cut."""
        self._own_ops += 1
        try:
            with no_grad():
                yield
        finally:
            self._own_ops -= 1

    def _note_cut(self, op, inputs: tuple, nid: int) -> None:
        """Remember node ``nid`` if eager's result has no gradient path though an input has
        one (an op under no_grad; not an identity autodiff knows, nor the tracer's own op)."""
        if not STATE.enabled and not self._own_ops and op.identity_of is None and any(t._rg for t in inputs):
            self.cut.add(nid)

    def cut_gradient_paths(self) -> None:
        """Give every node computed under no_grad (see ``cut``) a ``detach`` its users read,
        so autodiff of the graph sends no gradient through it (``with no_grad(): target =
        model(x2)`` inside a compiled loss whose backward runs after the call)."""
        graph = self.graph
        for nid in sorted(self.cut):
            node = graph.node(nid)
            users = graph.uses(nid)
            if not users:
                continue
            detached = graph.add_op("detach", [nid], {}, node.type, source=node.source)
            for user, pos in users:
                graph.nx.remove_edge(nid, user, key=pos)
                graph.nx.add_edge(detached, user, key=pos)
            if nid in self.dependent:
                self.dependent.add(detached)

    def on_custom_backward(self, what: str, t: Tensor | None = None) -> None:
        """Python code a backward will run (a hook on a tensor the traced code made, a custom
        ``autograd.Function``'s backward): a graph differentiated after the call cannot
        call it (see :meth:`check_custom_backward`).  A hook or ``retain_grad`` on a tensor
        the traced code did not make is a graph break."""
        if t is None or id(t) in self.born:
            self.custom_backward.append(what)
        elif self.graph_break is None:
            # on an argument or state (a parameter): it outlives the call, and a compiled
            # call, which does not run Python, would not set it up again
            self._break(f"{what} on a tensor the compiled function did not make")

    def check_new_leaves(self, differentiated_after: bool, returned: list) -> None:
        """A tensor the traced code made that requires grad without a history (``torch.ones(3,
        requires_grad=True)``, a parameter of a module built in the call) is a new leaf at
        every eager call, with a ``.grad`` of its own, which a graph, holding it as a
        constant, gives nobody: a graph break when the leaf is returned or a value is
        differentiated after the call (inside the call, ``autograd.grad`` on it is traced)."""
        if self.graph_break is not None:
            return
        leaves = {id(t) for t in self.alive if isinstance(t, Tensor) and t._rg and t._node is None}
        leaves &= self.born
        if leaves and (differentiated_after or any(id(t) in leaves for t in returned)):
            self._break("a tensor made inside the compiled function requires grad (a new leaf)")

    def check_custom_backward(self) -> None:
        """A graph whose backward runs after the call (a returned value requires grad) has
        its gradients from autodiff: the traced code's own backward code (hooks, a custom
        Function's backward) would not run.  A graph break."""
        if self.custom_backward and self.graph_break is None:
            self._break(
                f"{self.custom_backward[0]} inside the compiled function runs in a backward after the call"
            )
