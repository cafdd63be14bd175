"""``torch.autograd.Variable``: the wrapper of PyTorch before 0.4, kept by PyTorch as a
constructor of plain tensors so that old scripts (``Variable(x)``,
``Variable(x, requires_grad=True)``) still run.

``Variable(t)`` is ``t.detach()``: a new tensor sharing ``t``'s memory and version
counter, with no history, whose ``requires_grad`` is the argument's (False by default,
also when ``t`` requires grad). ``Variable()`` is an empty tensor of the default dtype.
``volatile=True`` only warns, as in PyTorch. ``isinstance(x, Variable)`` is
``isinstance(x, Tensor)``, and no object's type is ``Variable``.
"""

from __future__ import annotations

import operator
import warnings
from typing import Any

from ..creation import empty
from ..recording.function import FunctionNode
from ..tensor import Tensor

__all__ = ["Variable"]


class _VariableMeta(type):
    """Makes every tensor an instance of :class:`Variable`, as ``torch.autograd.variable.VariableMeta``."""

    def __instancecheck__(cls, other: Any) -> bool:
        return isinstance(other, Tensor)


class Variable(metaclass=_VariableMeta):
    """``Variable(data=None, requires_grad=False, volatile=False, _grad_fn=None, name=None)``:
    a Tensor (see the module docstring). ``name`` is accepted and not kept (irgrad's
    tensors have no name); the checks and their order are PyTorch's."""

    def __new__(
        cls,
        data: Tensor | None = None,
        requires_grad: bool = False,
        volatile: bool = False,
        _grad_fn: Any = None,
        name: str | None = None,
    ) -> Tensor:
        # PyTorch parses both flags as C chars: any integer, and nothing else
        requires_grad, volatile = bool(operator.index(requires_grad)), bool(operator.index(volatile))
        if volatile:
            warnings.warn(
                "volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                UserWarning,
                stacklevel=2,
            )
            if requires_grad:
                raise ValueError("Variable can't be volatile and require_grad at the same time!")
        if _grad_fn is not None:
            if not isinstance(_grad_fn, FunctionNode):
                raise TypeError(
                    f"_grad_fn has to be a Function object or None, but got {type(_grad_fn).__name__}"
                )
            raise RuntimeError(
                "_grad_fn argument to legacy Variable constructor is no longer supported.  Instead, please "
                "invoke your _grad_fn to produce a variable with it as the _grad_fn."
            )
        if data is None:
            var = empty(0)
        elif isinstance(data, Tensor):
            var = data.detach()
        else:
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        if requires_grad and not var.is_floating_point():
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        return var.requires_grad_(requires_grad)
