"""PyTorch's ``*_copy`` ops (``torch.permute_copy``, ``torch.split_copy`` ...): each view
op followed by a copy, so the result owns contiguous memory and writes to it never
reach the input; differentiable as the view op is.
"""

from __future__ import annotations

from collections.abc import Callable

from .._arguments import tensor_arguments
from ..tensor import Tensor

__all__ = [
    "permute_copy",
    "t_copy",
    "transpose_copy",
    "unsqueeze_copy",
    "squeeze_copy",
    "view_copy",
    "expand_copy",
    "select_copy",
    "slice_copy",
    "diagonal_copy",
    "unbind_copy",
    "split_copy",
    "split_with_sizes_copy",
    "detach_copy",
    "unfold_copy",
    "alias_copy",
]


def _copying(view: Callable) -> Callable:
    """``view``'s result (a tensor or a tuple of them) copied into fresh memory."""

    def function(input: Tensor, *args, **kwargs):
        result = view(input, *args, **kwargs)
        if isinstance(result, Tensor):
            return result.clone()
        return tuple(part.clone() for part in result)

    name = view.__name__.lstrip("_") + "_copy"
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``torch.{name[:-5]}`` of ``input``, copied into contiguous memory."
    function.__annotations__ = view.__annotations__
    function.__wrapped__ = view
    return tensor_arguments(function)


def _permute(input: Tensor, dims) -> Tensor:
    return input.permute(dims)


def _t(input: Tensor) -> Tensor:
    return input.t()


def _transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    return input.transpose(dim0, dim1)


def _unsqueeze(input: Tensor, dim: int) -> Tensor:
    return input.unsqueeze(dim)


def _squeeze(input: Tensor, dim=None) -> Tensor:
    return input.squeeze() if dim is None else input.squeeze(dim)


def _view(input: Tensor, size) -> Tensor:
    return input.view(size)


def _expand(input: Tensor, size, *, implicit: bool = False) -> Tensor:
    return input.expand(size)


def _select(input: Tensor, dim: int, index: int) -> Tensor:
    return input.select(dim, index)


def _slice(
    input: Tensor, dim: int = 0, start: int | None = None, end: int | None = None, step: int = 1
) -> Tensor:
    index = [slice(None)] * input.dim()
    index[dim] = slice(start, end, step)
    return input[tuple(index)]


def _diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    return input.diagonal(offset, dim1, dim2)


def _unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    return input.unbind(dim)


def _split(input: Tensor, split_size: int, dim: int = 0) -> tuple[Tensor, ...]:
    return input.split(split_size, dim)


def _split_with_sizes(input: Tensor, split_sizes, dim: int = 0) -> tuple[Tensor, ...]:
    return input.split_with_sizes(split_sizes, dim)


def _detach(input: Tensor) -> Tensor:
    return input.detach()


def _unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    return input.unfold(dimension, size, step)


def _alias(input: Tensor) -> Tensor:
    return input


permute_copy = _copying(_permute)
t_copy = _copying(_t)
transpose_copy = _copying(_transpose)
unsqueeze_copy = _copying(_unsqueeze)
squeeze_copy = _copying(_squeeze)
view_copy = _copying(_view)
expand_copy = _copying(_expand)
select_copy = _copying(_select)
slice_copy = _copying(_slice)
diagonal_copy = _copying(_diagonal)
unbind_copy = _copying(_unbind)
split_copy = _copying(_split)
split_with_sizes_copy = _copying(_split_with_sizes)
detach_copy = _copying(_detach)
unfold_copy = _copying(_unfold)
alias_copy = _copying(_alias)
