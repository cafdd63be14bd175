"""Tensor attributes and small reshapes PyTorch's Tensor has beside the core ones:
``nbytes``, ``itemsize``, ``layout``, ``is_sparse``, ``is_sparse_csr``, ``is_pinned``,
``pin_memory``, ``is_cpu``, ``is_signed``, ``is_same_size``, ``is_inference``,
``storage_offset``, ``output_nr``, ``ravel``, ``narrow_copy``, ``split_with_sizes`` and
the deprecated out-of-place ``resize``/``resize_as``.

A plain irgrad tensor is a dense CPU tensor over numpy memory, so its layout is
``strided`` and it is not sparse (``is_sparse`` and ``is_sparse_csr`` are False, as for
PyTorch's strided tensors; :mod:`irgrad.sparse`'s tensors say ``sparse_coo``), none is pinned (there is no accelerator to pin for: PyTorch's
``pin_memory()`` raises then), and no tensor is an inference tensor (``inference_mode``
only turns gradients off; docs: pytorch-differences).
"""

from __future__ import annotations

import math
import warnings

from .._arguments import tensor_arguments
from ..dtypes import bool_, uint8
from ..memory_formats import TorchConstant
from ..tensor import Tensor
from . import shape as S
from . import split_join as SJ

__all__ = [
    "layout",
    "strided",
    "sparse_coo",
    "is_signed",
    "is_same_size",
    "is_inference",
    "ravel",
    "narrow_copy",
    "split_with_sizes",
    "METHODS",
]


class layout(TorchConstant):
    """A tensor memory layout, as ``torch.layout``: ``strided`` or ``sparse_coo``."""

    __slots__ = ()


strided = layout("strided")
sparse_coo = layout("sparse_coo")


@tensor_arguments
def is_signed(input: Tensor) -> bool:
    """Whether ``input``'s dtype holds negative numbers (not bool nor uint8)."""
    return input.dtype not in (bool_, uint8)


@tensor_arguments
def is_same_size(input: Tensor, other: Tensor) -> bool:
    return tuple(input.shape) == tuple(other.shape)


@tensor_arguments
def is_inference(input: Tensor) -> bool:
    """False: irgrad makes no inference tensors (see the module docstring)."""
    return False


@tensor_arguments
def ravel(input: Tensor) -> Tensor:
    """``input`` flattened (a view when its memory allows one)."""
    return S.reshape(input, -1)


@tensor_arguments
def narrow_copy(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    return S.clone(SJ.narrow(input, dim, start, length))


@tensor_arguments
def split_with_sizes(input: Tensor, split_sizes, dim: int = 0) -> tuple[Tensor, ...]:
    if sum(split_sizes) != input.shape[dim]:
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {input.shape[dim]} (input tensor's size "
            f"at dimension {dim}), but got split_sizes={list(split_sizes)}"
        )
    return SJ.split(input, list(split_sizes), dim)


def _storage_offset(self: Tensor) -> int:
    """Elements between the start of the memory ``self`` views and ``self``'s first one."""
    if self._base is None:
        return 0
    return (self.data_ptr() - self._base.data_ptr()) // self._data.itemsize


def _resized(self: Tensor, sizes: tuple, name: str) -> Tensor:
    """PyTorch's autograd ``Resize``: a contiguous copy of ``self`` viewed as ``sizes``,
    which must hold as many elements (with its deprecation warning and error)."""
    warnings.warn(f"non-inplace {name} is deprecated", UserWarning, 3)
    count = math.prod(sizes)
    if self.numel() != count:
        raise RuntimeError(
            f"requested resize to {'x'.join(map(str, sizes))} ({count} elements in total), but the given tensor "
            f"has a size of {'x'.join(map(str, self.shape))} ({self.numel()} elements). autograd's resize can "
            "only change the shape of a given tensor, while preserving the number of elements. "
        )
    return S.reshape(S.clone(self), sizes)


def _resize(self: Tensor, *sizes) -> Tensor:
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    return _resized(self, tuple(sizes), "resize")


def _resize_as(self: Tensor, the_template: Tensor, *, memory_format=None) -> Tensor:
    return _resized(self, tuple(the_template.shape), "resize_as")


def _is_pinned(self: Tensor, device=None) -> bool:
    """False: irgrad has no accelerator, so no memory is pinned for one."""
    return False


def _pin_memory(self: Tensor, device=None) -> Tensor:
    """PyTorch's error on a machine without an accelerator: there is nothing to pin for."""
    raise RuntimeError("Cannot access accelerator device when none is available.")


METHODS = {
    "nbytes": property(lambda self: self.numel() * self._data.itemsize),
    "itemsize": property(lambda self: self._data.itemsize),
    "layout": property(lambda self: strided),
    "is_sparse": property(lambda self: False),
    "is_sparse_csr": property(lambda self: False),
    "is_pinned": _is_pinned,
    "pin_memory": _pin_memory,
    "is_cpu": property(lambda self: True),
    "output_nr": property(lambda self: self._out_nr if self._node is not None else 0),
    "is_signed": is_signed,
    "is_same_size": is_same_size,
    "is_inference": is_inference,
    "storage_offset": _storage_offset,
    "ravel": ravel,
    "narrow_copy": narrow_copy,
    "split_with_sizes": split_with_sizes,
    "resize": _resize,
    "resize_as": _resize_as,
}
