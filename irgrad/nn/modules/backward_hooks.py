"""Module full backward hooks (``register_full_backward_hook`` and ``_pre_hook``).

As PyTorch's ``BackwardHook``: a call of a module with such hooks passes its tensor
arguments that require grad, and then its tensor results, through identity autograd
Functions.  The results' one receives the gradients of the outputs: the pre-hooks see
them (and may replace them) and they are kept.  The arguments' one receives the
gradients of the inputs, and calls the hooks with both (a hook may replace the
gradients of the inputs).  Where no argument requires grad, the hooks are called with
the outputs' gradients and ``None`` for every input, and may not replace anything.

The hooks are Python a backward runs, so a traced call of such a module is a graph
break (``irgrad.compile`` runs it eagerly).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from ... import _tracing
from ...recording.function import Function
from ...tensor import Tensor


class BackwardHookFunction(Function):
    """The identity on its tensors, whose backward hands their gradients to ``on_grads``
    (and returns what it returns)."""

    @staticmethod
    def forward(ctx, on_grads: Callable, *tensors: Tensor) -> tuple:
        ctx.on_grads = on_grads
        ctx.materialize_grads = False  # a gradient that never came is None for the hooks, as PyTorch's
        return tensors

    @staticmethod
    def backward(ctx, *grads: Any) -> tuple:
        return (None, *ctx.on_grads(grads))


class BackwardHooks:
    """One call's hooks (PyTorch's ``BackwardHook``): :meth:`setup_inputs` after the
    forward pre-hooks, :meth:`setup_outputs` after the forward hooks."""

    def __init__(self, module, hooks: list, pre_hooks: list) -> None:
        self.module = module
        self.hooks, self.pre_hooks = hooks, pre_hooks  # (the global ones first)
        self.n_args = 0
        self.input_positions: list[int] = []
        self.grad_output: tuple | None = None

    def setup_inputs(self, args: tuple) -> tuple:
        """``args`` with the tensors that require grad passed through the inputs' identity."""
        _tracing.untraceable("a module's full backward hook (Python a backward runs)")
        self.n_args = len(args)
        self.input_positions = [k for k, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not self.input_positions:
            return args
        wrapped = BackwardHookFunction.apply(self._on_input_grads, *[args[k] for k in self.input_positions])
        args = list(args)
        for position, tensor in zip(self.input_positions, wrapped):
            args[position] = tensor
        return tuple(args)

    def setup_outputs(self, result: Any) -> Any:
        """``result`` (a tensor, or a tuple or list of them: anything else passes as it is)
        with its tensors that require grad passed through the outputs' identity."""
        single = isinstance(result, Tensor)
        sequence = type(result) in (tuple, list) or (isinstance(result, tuple) and hasattr(result, "_fields"))
        if not (single or sequence):
            return result
        outputs = [result] if single else list(result)
        at = [k for k, o in enumerate(outputs) if isinstance(o, Tensor) and o.requires_grad]
        if not at:
            return result
        wrapped = BackwardHookFunction.apply(self._on_output_grads, *[outputs[k] for k in at])
        for position, tensor in zip(at, wrapped):
            outputs[position] = tensor
        if single:
            return outputs[0]
        if hasattr(result, "_fields"):  # a namedtuple
            return type(result)(*outputs)
        return type(result)(outputs)

    def _on_output_grads(self, grads: tuple) -> tuple:
        grad_output = tuple(grads)
        for hook in self.pre_hooks:
            result = hook(self.module, grad_output)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != len(grad_output):
                    raise RuntimeError(
                        f"Backward pre hook returned an invalid number of grad_output, got {len(result)}, "
                        f"but expected {len(grad_output)}"
                    )
                grad_output = result
        self.grad_output = grad_output
        if not self.input_positions and self.hooks:  # no input's gradient will come
            warnings.warn(
                "Full backward hook is firing when gradients are computed with respect to module outputs "
                "since no inputs require gradients. See "
                "https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html"
                "#torch.nn.Module.register_full_backward_hook for more details.",
                stacklevel=2,
            )
            none = (None,) * self.n_args
            for hook in self.hooks:
                result = hook(self.module, none, grad_output)
                if result is not None and any(g is not None for g in result):
                    raise RuntimeError(
                        "Backward hook for Modules where no input requires gradient should always return "
                        "None or None for all gradients."
                    )
        return grad_output

    def _on_input_grads(self, grads: tuple) -> tuple:
        grad_input = [None] * self.n_args
        for position, grad in zip(self.input_positions, grads):
            grad_input[position] = grad
        for hook in self.hooks:
            result = hook(self.module, tuple(grad_input), self.grad_output)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != self.n_args:
                    raise RuntimeError(
                        f"Backward hook returned an invalid number of grad_input, got {len(result)}, "
                        f"but expected {self.n_args}"
                    )
                grad_input = list(result)
        return tuple(grad_input[position] for position in self.input_positions)
