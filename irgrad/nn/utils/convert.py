"""parameters_to_vector / vector_to_parameters: flatten parameters into one vector and back."""

from __future__ import annotations

from collections.abc import Iterable

from ...tensor import Tensor
from ...tensor_ops.split_join import cat

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated (differentiable)."""

    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Make each parameter's data the matching slice of ``vec`` (a view, as torch's ``param.data = ...``)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected irgrad.Tensor, but got: {type(vec).__name__}")
    pointer = 0
    for param in parameters:
        n = param.numel()
        param._set_data(vec._data[pointer : pointer + n].reshape(param._data.shape))
        pointer += n
