"""irgrad's dtypes and PyTorch's type-promotion rules.

A :class:`dtype` is a thin, interned wrapper around a numpy dtype so that
``irgrad.float32`` prints and compares like ``torch.float32``.  Promotion follows
PyTorch, not numpy: categories (bool < integer < floating) decide first, and a
dimensioned tensor outranks a 0-d tensor, which outranks a Python scalar, within
the same category.  So ``float32_tensor * 2.5`` stays float32 and
``int64_tensor * 2.5`` becomes the default float dtype (float32), where numpy
would give float64.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "bfloat16",
    "dtype",
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "bool_",
    "get_default_dtype",
    "set_default_dtype",
    "promote_types",
    "result_type",
    "to_dtype",
]

BOOL, INT, FLOAT = 0, 1, 2


class dtype:
    """A tensor element type (``irgrad.float32``...), wrapping one numpy dtype."""

    __slots__ = ("name", "np", "category", "itemsize", "is_floating_point", "is_signed")

    def __init__(self, name: str, np_dtype: np.dtype, category: int):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category
        self.itemsize = self.np.itemsize
        self.is_floating_point = category == FLOAT
        self.is_signed = self.np.kind in "if"

    def __repr__(self) -> str:
        return f"irgrad.{self.name}"

    def __reduce__(self):
        return (to_dtype, (self.name,))

    @property
    def is_complex(self) -> bool:
        return False

    @property
    def scalar_type(self) -> str:
        """PyTorch's name of the type in messages (``Float``, ``Long``, ``Bool`` ...)."""
        return _SCALAR_TYPES[self.name]


float16 = dtype("float16", np.float16, FLOAT)
float32 = dtype("float32", np.float32, FLOAT)
float64 = dtype("float64", np.float64, FLOAT)
uint8 = dtype("uint8", np.uint8, INT)
int8 = dtype("int8", np.int8, INT)
int16 = dtype("int16", np.int16, INT)
int32 = dtype("int32", np.int32, INT)
int64 = dtype("int64", np.int64, INT)
bool_ = dtype("bool", np.bool_, BOOL)

ALL_DTYPES = (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)


class UnavailableDtype:
    """A PyTorch dtype irgrad has no tensors of (numpy has no such type): scripts can name
    it (``{'bfloat16': torch.bfloat16, ...}[name]``), and using it for a tensor raises."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"irgrad.{self.name}"

    def __reduce__(self):
        return (to_dtype, (self.name,))

    @property
    def is_floating_point(self) -> bool:
        return True


bfloat16 = UnavailableDtype("bfloat16")
_FROM_NP = {d.np: d for d in ALL_DTYPES}
_BY_NAME = {d.name: d for d in ALL_DTYPES}
_BY_NAME.update(half=float16, float=float32, double=float64, short=int16, int=int32, long=int64)

_SCALAR_TYPES = {
    "float16": "Half",
    "float32": "Float",
    "float64": "Double",
    "uint8": "Byte",
    "int8": "Char",
    "int16": "Short",
    "int32": "Int",
    "int64": "Long",
    "bool": "Bool",
}

_default_float = float32


def get_default_dtype() -> dtype:
    """The dtype of float tensors created from Python floats (float32 unless changed)."""
    return _default_float


def set_default_dtype(d: dtype) -> None:
    """Set the default floating dtype, as ``torch.set_default_dtype``."""
    global _default_float
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point types are supported, got {d}")
    _default_float = d


def to_dtype(x) -> dtype:
    """Normalise an irgrad dtype, numpy dtype, Python type or name to an irgrad dtype."""
    if isinstance(x, dtype):
        return x
    if isinstance(x, UnavailableDtype) or x in ("bfloat16", "torch.bfloat16"):
        raise TypeError(
            f"irgrad has no {x if isinstance(x, str) else x.name} tensors (numpy has no such type); "
            "use float32, or float16"
        )
    if x is float:
        return _default_float
    if x is int:
        return int64
    if x is bool:
        return bool_
    if isinstance(x, str):
        found = _BY_NAME.get(x.removeprefix("torch.").removeprefix("irgrad."))
        if found is None:
            raise TypeError(f"unknown dtype name {x!r}")
        return found
    try:
        return _FROM_NP[np.dtype(x)]
    except (TypeError, KeyError):
        raise TypeError(f"irgrad has no dtype matching {x!r}") from None


def from_numpy_dtype(np_dtype: np.dtype) -> dtype:
    """The irgrad dtype of a numpy array's dtype; raises TypeError for unsupported ones."""
    found = _FROM_NP.get(np_dtype)
    if found is None:
        raise TypeError(
            f"can't convert np.ndarray of type {np_dtype}. The only supported types are: "
            "float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
        )
    return found


def promote_types(a: dtype, b: dtype) -> dtype:
    """The smallest dtype both ``a`` and ``b`` convert to, as ``torch.promote_types``."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    return _FROM_NP[np.promote_types(a.np, b.np)]


def scalar_dtype(value) -> dtype:
    """The dtype a Python scalar takes on its own (bool, int64 or the default float)."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating)):
        return _default_float
    raise TypeError(f"unsupported scalar type {type(value).__name__}")


# the C++ type PyTorch's overflow message names (c10::checked_convert's)
_C_NAMES = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int", "int64": "int64_t"}
_C_NAMES.update(float16="c10::Half", float32="float", float64="double")


def checked_fill_value(value, dt: dtype):
    """A Python number to be written into a ``dt`` tensor (``full``, ``fill_``,
    ``masked_fill``, ``index_fill``, ``x[i] = v``, ``F.pad``'s value), checked as PyTorch's
    ``Scalar`` conversion (c10's ``checked_convert``): a RuntimeError for NaN, an infinity
    or a value out of range for an integer dtype (numpy wrote INT64_MIN for NaN), and for
    a finite value beyond float32's range; a negative integer into an unsigned type wraps
    around (``uint8``: -1 is 255).  Returns the value to write.  float16 is not checked
    (PyTorch's ``full``/``fill_`` give inf, its ``masked_fill``/``pad`` raise)."""
    if (
        dt.category == BOOL
        or isinstance(value, (bool, np.bool_))
        or dt.np == np.float64
        or dt.np == np.float16
    ):
        return value
    info = np.iinfo(dt.np) if dt.category == INT else np.finfo(dt.np)
    if isinstance(value, (int, np.integer)):
        value = int(value)
        if dt.category == INT and info.min == 0 and value < 0 and -value <= info.max:
            return value % (int(info.max) + 1)  # two's complement, as PyTorch allows
        fits = dt.category == FLOAT or info.min <= value <= info.max
        fits = fits and (dt.category == INT or abs(value) <= float(info.max))
    elif isinstance(value, (float, np.floating)):
        value = float(value)
        if dt.category == FLOAT:
            fits = not np.isfinite(value) or abs(value) <= float(info.max)
        else:
            fits = np.isfinite(value) and float(info.min) <= value <= float(info.max)
    else:
        return value
    if not fits:
        raise RuntimeError(f"value cannot be converted to type {_C_NAMES[dt.name]} without overflow")
    return value


def _combine(higher: dtype | None, lower: dtype | None) -> dtype | None:
    # PyTorch's combine_categories: a lower-priority operand only matters when it is
    # of a higher category (e.g. a float scalar with an int tensor).
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.category == FLOAT:
        return higher
    if higher is bool_ or lower.category == FLOAT:
        return promote_types(higher, lower)
    return higher


def result_type(*operands) -> dtype:
    """PyTorch's result type of tensors and Python scalars (``torch.result_type``)."""
    dim = zero = scalar = None
    for x in operands:
        d = getattr(x, "dtype", None)
        if isinstance(d, dtype):
            if x.ndim:
                dim = d if dim is None else promote_types(dim, d)
            else:
                zero = d if zero is None else promote_types(zero, d)
        else:
            d = scalar_dtype(x)
            scalar = d if scalar is None else promote_types(scalar, d)
    return _combine(dim, _combine(zero, scalar))


class _DtypeInfo:
    """What ``finfo`` and ``iinfo`` share: equal when they describe the same dtype."""

    dtype: str

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.dtype == self.dtype

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.dtype))


class finfo(_DtypeInfo):
    """The limits of a floating dtype, as ``torch.finfo`` (the default dtype when none is
    given): ``bits``, ``eps``, ``max``, ``min``, ``tiny`` (= ``smallest_normal``),
    ``resolution`` (Python floats) and ``dtype`` (its name)."""

    def __init__(self, type: dtype | None = None) -> None:
        type = _info_dtype("finfo", type if type is not None else _default_float)
        if not type.is_floating_point:
            raise TypeError(
                "torch.finfo() requires a floating point input type. Use torch.iinfo to handle 'torch.finfo'"
            )
        info = np.finfo(type.np)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)  # (numpy gives float16 0.0010004)
        self.dtype = type.name

    def __repr__(self) -> str:
        return (
            f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
            f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})"
        )


class iinfo(_DtypeInfo):
    """The limits of an integer dtype, as ``torch.iinfo``: ``bits``, ``max``, ``min``
    (Python ints) and ``dtype`` (its name)."""

    def __init__(self, type: dtype) -> None:
        type = _info_dtype("iinfo", type)
        if type is bool_:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if type.category != INT:
            raise TypeError(
                "torch.iinfo() requires an integer input type. Use torch.finfo to handle 'torch.iinfo'"
            )
        info = np.iinfo(type.np)
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = type.name

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"


def _info_dtype(fn: str, type: object) -> dtype:
    if not isinstance(type, dtype):
        raise TypeError(f"{fn}(): argument 'type' (position 1) must be torch.dtype, not {_typename(type)}")
    return type


def _typename(value: object) -> str:
    return type(value).__name__
