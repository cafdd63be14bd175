"""PyTorch's legacy typed constructors: ``LongTensor``, ``FloatTensor``, ``DoubleTensor``,
``IntTensor``, ``BoolTensor``, ``ByteTensor`` and the rest.

``irgrad.FloatTensor([1, 2])`` builds a tensor from data, ``irgrad.FloatTensor(2, 3)`` (or
a ``Size``) one of that shape (zeros: PyTorch leaves it uninitialized), and
``isinstance(t, irgrad.FloatTensor)`` asks for a float32 tensor, as in PyTorch, where
these names are tensor *types* rather than classes of their own. ``Tensor.type`` takes
them and their names (``"torch.LongTensor"``).
"""

from __future__ import annotations

from numbers import Number

import numpy as np

from ..creation import tensor, zeros
from ..dtypes import bool_, dtype, float16, float32, float64, int8, int16, int32, int64, uint8
from ..tensor import Size, Tensor
from .shape import view_as

NAMES = {
    float32: "Float",
    float64: "Double",
    float16: "Half",
    int64: "Long",
    int32: "Int",
    int16: "Short",
    int8: "Char",
    uint8: "Byte",
    bool_: "Bool",
}


class _TensorType(type):
    """The metaclass of the legacy names: an instance check by dtype."""

    dtype: dtype

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype

    def __repr__(cls) -> str:
        return f"<class 'irgrad.{cls.__name__}'>"


def _sizes(args: tuple) -> tuple | None:
    """The shape a legacy call gives by sizes (ints or one ``Size``), else None."""
    if len(args) == 1 and isinstance(args[0], Size):
        return tuple(args[0])
    if args and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
        return tuple(int(a) for a in args)
    return None


def _construct(cls, *args, device=None) -> Tensor:
    """``cls()``, ``cls(*sizes)``, ``cls(size)``, ``cls(data)`` or ``cls(tensor)``."""
    if not args:
        return zeros(0, dtype=cls.dtype)
    shape = _sizes(args)
    if shape is not None:
        if any(s < 0 for s in shape):
            raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}")
        return zeros(shape, dtype=cls.dtype)
    if len(args) > 1:
        raise TypeError(f"new() received an invalid combination of arguments to irgrad.{cls.__name__}")
    (data,) = args
    if isinstance(data, Tensor):
        if data.dtype is not cls.dtype:
            raise TypeError(f"expected {cls.dtype} (got {data.dtype}) for irgrad.{cls.__name__}")
        return view_as(data, data)
    if isinstance(data, Number):
        raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
    return tensor(data, dtype=cls.dtype)


def _legacy(name: str, dt: dtype) -> type:
    return _TensorType(
        f"{name}Tensor",
        (),
        {
            "dtype": dt,
            "__new__": _construct,
            "__doc__": f"The legacy {dt} tensor type: a constructor from data or sizes, and an "
            f"``isinstance`` check for {dt} tensors.",
            "__module__": "irgrad",
        },
    )


FloatTensor = _legacy("Float", float32)
DoubleTensor = _legacy("Double", float64)
HalfTensor = _legacy("Half", float16)
LongTensor = _legacy("Long", int64)
IntTensor = _legacy("Int", int32)
ShortTensor = _legacy("Short", int16)
CharTensor = _legacy("Char", int8)
ByteTensor = _legacy("Byte", uint8)
BoolTensor = _legacy("Bool", bool_)

BY_NAME = {f"{name}Tensor": dt for dt, name in NAMES.items()}


def type_target(target):
    """The dtype ``Tensor.type(target)`` asks for: a legacy type, its name (``"torch.LongTensor"``)
    or anything ``Tensor.to`` takes."""
    if isinstance(target, _TensorType):
        return target.dtype
    if isinstance(target, str):
        found = BY_NAME.get(target.removeprefix("torch.").removeprefix("irgrad."))
        if found is not None:
            return found
    return target
