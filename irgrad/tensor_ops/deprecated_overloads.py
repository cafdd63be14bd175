"""PyTorch's deprecated overloads that take the scalar first, which old scripts still
call: ``x.add_(alpha, other)`` (``add``, ``sub``, in place or not, and ``torch.add(x,
alpha, other)``) and ``x.addcmul_(value, tensor1, tensor2)`` (``addcmul``,
``addcdiv``). PyTorch 2.13 still runs them, with a UserWarning given once per process
for all of them together (its ``TORCH_WARN_ONCE``); so does irgrad.
"""

from __future__ import annotations

import warnings
from numbers import Number

from .. import _tracing
from ..tensor import Tensor

__all__ = ["scalar_first"]

_warned = False  # whether the once-per-process warning was given


def _warn_once(name: str, scalar_name: str, operands: tuple[str, ...]) -> None:
    global _warned
    if _warned:
        return
    _warned = True
    tensors = ", ".join(f"Tensor {o}" for o in operands)
    warnings.warn(
        f"This overload of {name} is deprecated:\n\t{name}(Number {scalar_name}, {tensors})\n"
        f"Consider using one of the following signatures instead:\n\t{name}({tensors}, *, Number {scalar_name} = 1)",
        UserWarning,
        stacklevel=_tracing.user_stacklevel(),
    )


def _is_scalar(value: object) -> bool:
    """What PyTorch's ``Number`` parameter takes: a number or a 0-d tensor without history."""
    if isinstance(value, Tensor):
        return value.ndim == 0 and not value.requires_grad
    return isinstance(value, Number)


def scalar_first(
    name: str,
    scalar_name: str,
    operands: tuple[str, ...],
    arguments: tuple,
    keyword_scalar: Number,
    numbers_allowed: bool,
) -> tuple:
    """The deprecated call ``name(input, scalar, *operands)`` read as the current one.

    ``arguments`` are the positional arguments after ``input`` (the scalar first);
    returns ``(scalar, *operands)`` after PyTorch's checks: the scalar is a number (or a
    0-d tensor), each operand a tensor (or, with ``numbers_allowed``, a number), and
    the scalar is not also given by keyword (``keyword_scalar`` is its default, 1).
    Warns once per process."""
    scalar, rest = arguments[0], arguments[1:]
    operands_ok = all(isinstance(a, Tensor) or (numbers_allowed and isinstance(a, Number)) for a in rest)
    if len(rest) != len(operands) or not _is_scalar(scalar) or not operands_ok:
        raise TypeError(
            f"{name}() takes {len(operands) + 1} positional arguments but {len(arguments) + 1} were given"
        )
    if keyword_scalar != 1:
        raise TypeError(
            f"{name}() received an invalid combination of arguments - got unrecognized keyword arguments: "
            f"{scalar_name}"
        )
    _warn_once(name, scalar_name, operands)
    return (scalar.item() if isinstance(scalar, Tensor) else scalar, *rest)
