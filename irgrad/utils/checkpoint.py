"""``irgrad.utils.checkpoint``: activation checkpointing, as ``torch.utils.checkpoint``.

``checkpoint(fn, *args, use_reentrant=True)`` runs ``fn`` without recording a graph and
keeps only its arguments; the backward runs ``fn`` again, recording this time (from the
random generator's state of the first run, so dropout draws the same masks), and
backpropagates through that: the activations inside ``fn`` live only while its
backward runs.  This is PyTorch's reentrant variant, with its rules: an output
requires grad only if an argument does, and ``.grad()`` or ``backward(inputs=...)``
through a checkpoint raises.

``use_reentrant=False`` runs ``fn`` as a plain call (its forward context from
``context_fn`` around it): the same values and gradients, with ``autograd.grad``
allowed, but no memory saved (PyTorch recomputes there too; docs/pytorch-differences.md).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from ..autograd.engine import accumulates_into_leaves, backward
from ..autograd.function import Function, FunctionCtx
from ..random import get_rng_state, set_rng_state
from ..recording.grad_mode import enable_grad
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "noop_context_fn", "CheckpointFunction"]


def noop_context_fn() -> tuple[contextlib.AbstractContextManager, contextlib.AbstractContextManager]:
    """The default ``context_fn``: no context around the forward or the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


def _use_reentrant(use_reentrant: bool | None, fn_name: str) -> bool:
    if use_reentrant is None:
        warnings.warn(
            f"irgrad.utils.{fn_name}: the use_reentrant parameter should be passed explicitly "
            "(as in torch.utils.checkpoint); use_reentrant=True is used.",
            stacklevel=3,
        )
        return True
    return use_reentrant


class CheckpointFunction(Function):
    """The reentrant checkpoint: a node whose backward runs the function again."""

    @staticmethod
    def forward(ctx: FunctionCtx, run_function: Callable, preserve_rng_state: bool, *args: Any) -> Any:
        if not any(isinstance(a, Tensor) and a.requires_grad for a in args):
            warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=4)
        ctx.run_function = run_function
        ctx.rng_state = get_rng_state() if preserve_rng_state else None
        ctx.arguments = [_TENSOR if isinstance(a, Tensor) else a for a in args]
        ctx.save_for_backward(*(a for a in args if isinstance(a, Tensor)))
        return run_function(*args)

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> tuple:
        if not accumulates_into_leaves():
            raise RuntimeError(
                "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() or passing an "
                "`inputs` parameter to .backward(). To resolve this error, you can either set "
                "use_reentrant=False, or call .backward() without passing the `inputs` argument."
            )
        saved = iter(ctx.saved_tensors)
        args = [_detached(next(saved)) if a is _TENSOR else a for a in ctx.arguments]
        with _random_state(ctx.rng_state), enable_grad():
            outputs = ctx.run_function(*args)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [
            (o, g)
            for o, g in zip(outputs, grad_outputs)
            if isinstance(o, Tensor) and o.requires_grad and g is not None
        ]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None, *(a.grad if isinstance(a, Tensor) else None for a in args))


_TENSOR = object()  # where a tensor argument was (the tensors themselves are saved for backward)


def _detached(t: Tensor) -> Tensor:
    """What the recomputation runs on: ``t``'s values, a new leaf requiring what ``t`` did."""
    return t.detach().requires_grad_(t.requires_grad)


@contextlib.contextmanager
def _random_state(state):
    """Run with the generator at ``state`` (the forward's), then put back the state it had."""
    if state is None:
        yield
        return
    now = get_rng_state()
    set_rng_state(state)
    try:
        yield
    finally:
        set_rng_state(now)


def checkpoint(
    function: Callable,
    *args: Any,
    use_reentrant: bool | None = None,
    context_fn: Callable = noop_context_fn,
    determinism_check: str = "default",
    debug: bool = False,
    early_stop: bool = True,
    **kwargs: Any,
) -> Any:
    """``function(*args, **kwargs)``, its activations recomputed in the backward rather
    than kept (``use_reentrant=True``; see the module doc for ``False``)."""
    use_reentrant = _use_reentrant(use_reentrant, "checkpoint")
    preserve_rng_state = kwargs.pop("preserve_rng_state", True)
    if determinism_check not in ("default", "none"):
        raise ValueError(
            f"determinism_check should be one of ['default', 'none'], but got {determinism_check}"
        )
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        return CheckpointFunction.apply(function, preserve_rng_state, *args)
    forward_context, _ = context_fn()
    with forward_context:
        return function(*args, **kwargs)


def checkpoint_sequential(
    functions: Iterable[Callable] | Any,
    segments: int,
    input: Any,
    use_reentrant: bool | None = None,
    **kwargs: Any,
) -> Any:
    """Run ``functions`` (a Sequential or a list of modules) on ``input`` in ``segments``
    pieces, checkpointing every piece but the last."""
    use_reentrant = _use_reentrant(use_reentrant, "checkpoint_sequential")
    preserve_rng_state = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    children = getattr(functions, "children", None)
    functions = list(children()) if callable(children) else list(functions)

    def run(start: int, end: int) -> Callable:
        def forward(x):
            for fn in functions[start : end + 1]:
                x = fn(x)
            return x

        return forward

    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(
            run(start, end), input, use_reentrant=use_reentrant, preserve_rng_state=preserve_rng_state
        )
    return run(end + 1, len(functions) - 1)(input)
