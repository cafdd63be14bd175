"""``Parameter`` and ``Buffer``: tensors that a Module registers when they are assigned to it.

A ``Parameter`` is a leaf tensor subclass that shares its storage with the tensor it
was made from (as ``torch.nn.Parameter`` does through ``_make_subclass``), so
``Parameter(t)`` never copies.  Ops on a Parameter return plain Tensors.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import get_default_dtype
from ..tensor import Tensor, _init

__all__ = ["Parameter", "Buffer"]


class Parameter(Tensor):
    """A learnable tensor: registered in ``Module.parameters()`` when assigned to a Module."""

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        if data is None:
            array = np.empty(0, dtype=get_default_dtype().np)
        elif isinstance(data, Tensor):
            array = data._data
        else:
            raise TypeError(f"Parameter(): expected a Tensor as data, got {type(data).__name__}")
        p = object.__new__(cls)
        _init(p, array)
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        """Everything happens in ``__new__``; this only swallows the constructor arguments."""

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Buffer(Tensor):
    """A tensor that becomes a Module buffer when assigned (``persistent`` is kept for that)."""

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True) -> Buffer:
        if data is None:
            array = np.empty(0, dtype=get_default_dtype().np)
        elif isinstance(data, Tensor):
            array = data._data
        else:
            raise TypeError(f"Buffer(): expected a Tensor as data, got {type(data).__name__}")
        b = object.__new__(cls)
        _init(b, array, data._rg if isinstance(data, Tensor) and data._node is None else False)
        b.persistent = persistent
        return b

    def __init__(self, data: Tensor | None = None, *, persistent: bool = True) -> None:
        """Everything happens in ``__new__``."""
