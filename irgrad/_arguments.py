"""PyTorch's TypeError for a non-tensor passed where a public function takes a tensor.

irgrad's functions read ``input._data`` and other attributes directly, so a list
where a tensor belongs would fail somewhere inside with an AttributeError that names
neither the function nor the argument.  :func:`check_tensor_arguments` wraps the
public functions of a module so that such a failure is reported as PyTorch reports
it: ``linear(): argument 'input' (position 1) must be Tensor, not list``.

The check runs only once an AttributeError has been raised, so a correct call pays
for one extra frame and nothing else.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

_TENSOR = frozenset({"Tensor", "Tensor | None"})
_TENSORS = frozenset({"Sequence[Tensor]"})
_CHECKED = _TENSOR | _TENSORS

# (position from 1, parameter name, whether it takes a sequence of tensors)
_Parameter = tuple[int, str, bool]


def _tensor_parameters(fn: Callable) -> tuple[inspect.Signature, list[_Parameter]] | None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    tensors = [
        (position, p.name, p.annotation in _TENSORS)
        for position, p in enumerate(signature.parameters.values(), start=1)
        if isinstance(p.annotation, str) and p.annotation in _CHECKED
    ]
    return (signature, tensors) if tensors else None


def _reject_non_tensors(
    name: str, signature: inspect.Signature, tensors: list[_Parameter], args: tuple, kwargs: dict
) -> None:
    from .tensor import Tensor

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


def checked(fn: Callable) -> Callable:
    """``fn``, raising PyTorch's TypeError when a parameter annotated ``Tensor`` (or
    ``Sequence[Tensor]``) got something else; ``fn`` itself when it has none."""
    found = _tensor_parameters(fn)
    if found is None:
        return fn
    signature, tensors = found
    name = fn.__name__

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AttributeError:
            _reject_non_tensors(name, signature, tensors, args, kwargs)
            raise

    return call


def check_tensor_arguments(namespace: dict) -> None:
    """Wrap, in place, every public function defined in the module whose globals are
    ``namespace`` (call it at the end of the module)."""
    module = namespace["__name__"]
    for name, value in list(namespace.items()):
        if (
            not name.startswith("_")
            and inspect.isfunction(value)
            and value.__module__ == module
            and not hasattr(value, "__wrapped__")
        ):
            namespace[name] = checked(value)
