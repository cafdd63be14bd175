"""``Parameter`` and ``Buffer``: tensors that a Module registers when they are assigned to it.

A ``Parameter`` is a leaf tensor subclass that shares its storage with the tensor it
was made from (as ``torch.nn.Parameter`` does through ``_make_subclass``), so
``Parameter(t)`` never copies.  Ops on a Parameter return plain Tensors.

``UninitializedParameter`` and ``UninitializedBuffer`` are the placeholders of a lazy
module (:mod:`.modules.lazy`) until its first call knows their shape: any use of their
data raises, and ``materialize`` turns them in place into a Parameter or a Tensor.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from ..creation import empty
from ..dtypes import dtype as _dtype
from ..dtypes import from_numpy_dtype, get_default_dtype, to_dtype
from ..tensor import Size, Tensor, _init, to_target

__all__ = [
    "Parameter",
    "UninitializedParameter",
    "is_lazy",
    "Buffer",
    "UninitializedBuffer",
    "UninitializedTensorMixin",
]


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


_DATA = Tensor._data  # the array slot, which an uninitialized tensor hides behind a property
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _entry_point() -> str:
    """The outermost irgrad function the user's code called (what an error names)."""
    frame, name = sys._getframe(2), "<unknown>"
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        name = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
        frame = frame.f_back
    return name


_REFUSAL = "Attempted to use an uninitialized parameter in "


def _refusal(kind: str) -> ValueError:
    """PyTorch's error for a use of an uninitialized parameter or buffer's data."""
    return ValueError(
        f"{_REFUSAL}{_entry_point()}. This error happens when you are using a `LazyModule` or "
        f"explicitly manipulating `irgrad.nn.parameter.{kind}` objects. When using LazyModules Call "
        "`forward` with a dummy batch to initialize the parameters before calling irgrad functions"
    )


class UninitializedTensorMixin:
    """What UninitializedParameter and UninitializedBuffer share, as PyTorch's mixin:
    reading their data (any op, ``shape``, ``numel`` ...) raises; their dtype, ``size()``
    (``(0,)``), ``to`` and the float conversions work, so a lazy module may be moved to
    another dtype before its first call; ``materialize`` gives them their data."""

    __slots__ = ()
    cls_to_become: type

    @property
    def _data(self) -> np.ndarray:
        # every op reads ``_data``: the one place where a use is refused
        raise _refusal(type(self).__name__)

    @_data.setter
    def _data(self, array: np.ndarray) -> None:
        _DATA.__set__(self, array)

    def _set_data(self, array: np.ndarray) -> None:
        """A new (still empty) array: ``Module.to`` converting a lazy module."""
        _DATA.__set__(self, array)

    def materialize(self, shape: Any, device: Any = None, dtype: _dtype | None = None) -> None:
        """Become a ``cls_to_become`` (a Parameter or a Tensor) of ``shape``, in this dtype
        unless ``dtype`` is given, with unspecified values: the object stays the same, so an
        optimizer or a state dict holding it holds the materialized one."""
        data = empty(shape, dtype=self.dtype if dtype is None else to_dtype(dtype), device=device)._data
        self.__class__ = self.cls_to_become
        self._set_data(data)  # (as Tensor's: a tracer hears of the new storage)

    @property
    def shape(self) -> Size:
        refused = sys.exc_info()[1]
        if isinstance(refused, ValueError) and str(refused).startswith(_REFUSAL):
            raise refused  # an op's shape rule, wording the refusal of its kernel (dispatch.apply)
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error usually happens "
            "in `load_state_dict` when trying to load an uninitialized parameter into an initialized one. "
            "Call `forward` to initialize the parameters before accessing their attributes."
        )

    def size(self, dim: int | None = None) -> Size | int:
        """``(0,)``, as PyTorch's (the placeholder's size, not the parameter's)."""
        shape = _DATA.__get__(self).shape
        return Size(shape) if dim is None else shape[dim]

    @property
    def ndim(self) -> int:
        """1, as PyTorch's (the placeholder's, like ``size()``)."""
        return _DATA.__get__(self).ndim

    def numpy(self, *, force: bool = False) -> np.ndarray:
        raise _refusal(type(self).__name__)

    @property
    def dtype(self) -> _dtype:
        return from_numpy_dtype(_DATA.__get__(self).dtype)

    def is_floating_point(self) -> bool:
        return _DATA.__get__(self).dtype.kind == "f"

    @property
    def data(self) -> Tensor:
        """The empty placeholder, as a plain tensor."""
        return Tensor._wrap(_DATA.__get__(self))

    @data.setter
    def data(self, value: Tensor) -> None:
        Tensor.data.fset(self, value)

    def to(self, *args: Any, dtype: Any = None, device: Any = None, **kwargs: Any) -> Tensor:
        """The placeholder converted (see ``_converted``): what ``Module.to`` applies."""
        target = to_target(args, dtype, device)
        array = _DATA.__get__(self)
        return self._converted(array if target is None else array.astype(target.np))

    def float(self, memory_format: Any = None) -> Tensor:
        return self.to(to_dtype("float32"))

    def double(self, memory_format: Any = None) -> Tensor:
        return self.to(to_dtype("float64"))

    def half(self, memory_format: Any = None) -> Tensor:
        return self.to(to_dtype("float16"))

    def _converted(self, array: np.ndarray) -> Tensor:
        raise NotImplementedError

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        raise _refusal(type(self).__name__)

    def share_memory_(self) -> None:
        raise RuntimeError(
            "Can't share memory on an uninitialized parameter or buffer. Call `forward` to initialize "
            "the parameters before calling `module.share_memory()`."
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def __reduce_ex__(self, protocol: int) -> tuple:
        return (type(self), (self.requires_grad,))


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A Parameter whose shape is not known yet (a lazy module's until its first call).

    ``dtype`` (the default dtype unless given) is the one it materializes in.
    """

    cls_to_become = Parameter

    def __new__(
        cls, requires_grad: bool = True, device: Any = None, dtype: Any = None
    ) -> UninitializedParameter:
        p = object.__new__(cls)
        _init(p, empty(0, dtype=dtype, device=device)._data, bool(requires_grad))
        return p

    def __init__(self, requires_grad: bool = True, device: Any = None, dtype: Any = None) -> None:
        """Everything happens in ``__new__``."""

    def _converted(self, array: np.ndarray) -> Tensor:
        # a plain tensor, as PyTorch's: Module.to takes its (empty) data into the parameter
        return Tensor._wrap(array)

    def __deepcopy__(self, memo: dict) -> UninitializedParameter:
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.requires_grad, dtype=self.dtype)
        return memo[id(self)]


class UninitializedBuffer(UninitializedTensorMixin, Buffer):
    """A buffer whose shape is not known yet (a lazy module's until its first call)."""

    cls_to_become = Tensor

    def __new__(
        cls, requires_grad: bool = False, device: Any = None, dtype: Any = None, persistent: bool = True
    ) -> UninitializedBuffer:
        b = object.__new__(cls)
        _init(b, empty(0, dtype=dtype, device=device)._data, bool(requires_grad))
        b.persistent = persistent
        return b

    def __init__(
        self, requires_grad: bool = False, device: Any = None, dtype: Any = None, persistent: bool = True
    ) -> None:
        """Everything happens in ``__new__``."""

    def _converted(self, array: np.ndarray) -> Tensor:
        # another uninitialized buffer, as PyTorch's: Module.to replaces a buffer by it
        if array.dtype == _DATA.__get__(self).dtype:
            return self
        return type(self)(self.requires_grad, dtype=from_numpy_dtype(array.dtype), persistent=self.persistent)

    def __deepcopy__(self, memo: dict) -> UninitializedBuffer:
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.requires_grad, dtype=self.dtype, persistent=self.persistent)
        return memo[id(self)]


def is_lazy(param: Any) -> bool:
    """Whether ``param`` is an uninitialized parameter or buffer."""
    return isinstance(param, UninitializedTensorMixin)
