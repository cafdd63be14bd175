"""PyTorch's TypeError for a non-tensor passed where a public function takes a tensor.

irgrad's functions read ``input._data`` and other attributes directly, so a list
where a tensor belongs would fail somewhere inside with an AttributeError that names
neither the function nor the argument.  ``@tensor_arguments``, written on the public
function where it is defined, reports such a failure as PyTorch does:
``linear(): argument 'input' (position 1) must be Tensor, not list``.

The parameters checked are those annotated ``Tensor``, ``Tensor | None`` or
``Sequence[Tensor]``.  The check runs only once an AttributeError has been raised,
so a correct call runs no check.  It does pass through the wrapper's frame; Tensor
methods, whose only tensor argument is ``self``, skip it (see
:func:`unchecked_method`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

from .tensor import Tensor

_TENSOR = frozenset({"Tensor", "Tensor | None"})
_TENSORS = frozenset({"Sequence[Tensor]"})
_CHECKED = _TENSOR | _TENSORS

# (position from 1, parameter name, whether it takes a sequence of tensors)
_Parameter = tuple[int, str, bool]


def _tensor_parameters(signature: inspect.Signature) -> list[_Parameter]:
    return [
        (position, p.name, p.annotation in _TENSORS)
        for position, p in enumerate(signature.parameters.values(), start=1)
        if isinstance(p.annotation, str) and p.annotation in _CHECKED
    ]


def _reject_non_tensors(
    name: str, signature: inspect.Signature, tensors: list[_Parameter], args: tuple, kwargs: dict
) -> None:
    try:
        bound = signature.bind(*args, **kwargs).arguments
    except TypeError:
        return
    for position, parameter, sequence in tensors:
        value = bound.get(parameter)
        if sequence and isinstance(value, (list, tuple)):
            for k, element in enumerate(value):
                if not isinstance(element, Tensor):
                    raise TypeError(
                        f"{name}(): expected Tensor as element {k} in argument '{parameter}', "
                        f"but got {type(element).__name__}"
                    )
        elif value is not None and not isinstance(value, Tensor):
            kind = "tuple of Tensors" if sequence else "Tensor"
            raise TypeError(
                f"{name}(): argument '{parameter}' (position {position}) must be {kind}, not {type(value).__name__}"
            )


def tensor_arguments(fn: Callable) -> Callable:
    """``fn``, raising PyTorch's TypeError when a parameter annotated ``Tensor`` (or
    ``Sequence[Tensor]``) got something else and ``fn`` failed on it."""
    signature = inspect.signature(fn)
    tensors = _tensor_parameters(signature)
    if not tensors:
        raise TypeError(f"@tensor_arguments: {fn.__qualname__} has no parameter annotated Tensor")
    name = fn.__name__

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AttributeError:
            _reject_non_tensors(name, signature, tensors, args, kwargs)
            raise

    call.tensor_parameters = tuple(tensors)
    return call


def unchecked_method(fn: Callable) -> Callable:
    """What to attach as a Tensor method: ``fn`` without its check when the only tensor
    it takes is the first (``self``, a tensor by construction), so methods pay nothing."""
    checked = getattr(fn, "tensor_parameters", None)
    if checked is not None and all(position == 1 for position, _, _ in checked):
        return fn.__wrapped__
    return fn
