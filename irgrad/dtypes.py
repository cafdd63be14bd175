"""irgrad's dtypes and PyTorch's type-promotion rules.

A :class:`dtype` is a thin, interned wrapper around a numpy dtype so that
``irgrad.float32`` prints and compares like ``torch.float32``.  Promotion follows
PyTorch, not numpy: categories (bool < integer < floating < complex) decide first,
and a dimensioned tensor outranks a 0-d tensor, which outranks a Python scalar,
within the same category.  So ``float32_tensor * 2.5`` stays float32 and
``int64_tensor * 2.5`` becomes the default float dtype (float32), where numpy
would give float64; ``float64_tensor * 1j`` is complex128 (a complex operand of
lower priority keeps a float tensor's precision).

Complex dtypes are recorded as in use the first time one is resolved here (a
complex tensor made from data, a cast to one, a complex Python scalar): until then
no complex tensor exists, and dispatch skips its check that an op supports complex
operands (:data:`COMPLEX`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "bfloat16",
    "complex32",
    "complex64",
    "complex128",
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

BOOL, INT, FLOAT, COMPLEX = 0, 1, 2, 3


class ComplexUse:
    """Whether a complex dtype has been resolved in this process (a one-way switch):
    dispatch checks that an op supports complex operands only once one may exist."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen = False


COMPLEX_USE = ComplexUse()


class dtype:
    """A tensor element type (``irgrad.float32``...), wrapping one numpy dtype."""

    __slots__ = ("name", "np", "category", "itemsize", "is_floating_point", "is_signed")

    def __init__(self, name: str, np_dtype: np.dtype, category: int):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category
        self.itemsize = self.np.itemsize
        self.is_floating_point = category == FLOAT
        self.is_signed = self.np.kind in "ifc"

    def __repr__(self) -> str:
        return f"irgrad.{self.name}"

    def __reduce__(self):
        return (to_dtype, (self.name,))

    @property
    def is_complex(self) -> bool:
        return self.category == COMPLEX

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
complex64 = dtype("complex64", np.complex64, COMPLEX)
complex128 = dtype("complex128", np.complex128, COMPLEX)

ALL_DTYPES = (float16, float32, float64, uint8, int8, int16, int32, int64, bool_, complex64, complex128)


class UnavailableDtype:
    """A PyTorch dtype irgrad has no tensors of (numpy has no such type): scripts can name
    it (``{'bfloat16': torch.bfloat16, ...}[name]``), and using it for a tensor raises."""

    __slots__ = ("name", "is_complex")

    def __init__(self, name: str, is_complex: bool = False) -> None:
        self.name = name
        self.is_complex = is_complex

    def __repr__(self) -> str:
        return f"irgrad.{self.name}"

    def __reduce__(self):
        return (to_dtype, (self.name,))

    @property
    def is_floating_point(self) -> bool:
        return not self.is_complex


bfloat16 = UnavailableDtype("bfloat16")
complex32 = UnavailableDtype("complex32", is_complex=True)  # torch's chalf: numpy has no complex of float16s
_UNAVAILABLE = {d.name: d for d in (bfloat16, complex32)}
_UNAVAILABLE["chalf"] = complex32
_FROM_NP = {d.np: d for d in ALL_DTYPES}
_BY_NAME = {d.name: d for d in ALL_DTYPES}
_BY_NAME.update(half=float16, float=float32, double=float64, short=int16, int=int32, long=int64)
_BY_NAME.update(cfloat=complex64, cdouble=complex128)

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
    "complex64": "ComplexFloat",
    "complex128": "ComplexDouble",
}
# the complex dtype of each float precision, and back (PyTorch's toComplexType, toRealValueType)
_COMPLEX_OF = {float32: complex64, float64: complex128}
_REAL_OF = {complex64: float32, complex128: float64}

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


def _unavailable(d: UnavailableDtype) -> TypeError:
    if d.is_complex:
        return TypeError(
            f"irgrad has no {d.name} (chalf) tensors (numpy has no complex type of float16 parts); "
            "use complex64"
        )
    return TypeError(f"irgrad has no {d.name} tensors (numpy has no such type); use float32, or float16")


def used(d: dtype) -> dtype:
    """``d``, noting a complex one as in use (see :data:`COMPLEX_USE`)."""
    if d.category == COMPLEX:
        COMPLEX_USE.seen = True
    return d


def to_dtype(x) -> dtype:
    """Normalise an irgrad dtype, numpy dtype, Python type or name to an irgrad dtype."""
    if isinstance(x, dtype):
        return used(x)
    if isinstance(x, UnavailableDtype):
        raise _unavailable(x)
    if x is float:
        return _default_float
    if x is int:
        return int64
    if x is bool:
        return bool_
    if x is complex:
        return used(default_complex())
    if isinstance(x, str):
        name = x.removeprefix("torch.").removeprefix("irgrad.")
        if name in _UNAVAILABLE:
            raise _unavailable(_UNAVAILABLE[name])
        found = _BY_NAME.get(name)
        if found is None:
            raise TypeError(f"unknown dtype name {x!r}")
        return used(found)
    try:
        return used(_FROM_NP[np.dtype(x)])
    except (TypeError, KeyError):
        raise TypeError(f"irgrad has no dtype matching {x!r}") from None


def from_numpy_dtype(np_dtype: np.dtype) -> dtype:
    """The irgrad dtype of a numpy array's dtype; raises TypeError for unsupported ones."""
    found = _FROM_NP.get(np_dtype)
    if found is None:
        raise TypeError(
            f"can't convert np.ndarray of type {np_dtype}. The only supported types are: "
            "float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint8, and bool."
        )
    if found.category == COMPLEX:
        COMPLEX_USE.seen = True
    return found


def default_complex() -> dtype:
    """The complex dtype Python complex numbers become: the default float's (complex64
    for float32, complex128 for float64), as PyTorch's."""
    return _COMPLEX_OF.get(_default_float, complex64)


def to_complex(d: dtype) -> dtype:
    """The complex dtype with ``d``'s precision (PyTorch's toComplexType): float32 and
    complex64 give complex64, float64 and complex128 complex128; float16 has none here."""
    if d.category == COMPLEX:
        return used(d)
    found = _COMPLEX_OF.get(d)
    if found is None:
        raise _unavailable(complex32) if d is float16 else TypeError(f"{d} has no complex counterpart")
    return used(found)


def to_real(d: dtype) -> dtype:
    """The real dtype of a complex dtype's parts (PyTorch's toRealValueType); ``d`` itself
    when it is real."""
    return _REAL_OF.get(d, d)


def promote_types(a: dtype, b: dtype) -> dtype:
    """The smallest dtype both ``a`` and ``b`` convert to, as ``torch.promote_types``:
    a complex and a float dtype give the complex dtype of the wider precision."""
    if a is b:
        return a
    if a.category != b.category:
        high, low = (a, b) if a.category > b.category else (b, a)
        if high.category == COMPLEX and low.category == FLOAT:
            return to_complex(_FROM_NP[np.promote_types(to_real(high).np, low.np)])
        return high
    return _FROM_NP[np.promote_types(a.np, b.np)]


def scalar_dtype(value) -> dtype:
    """The dtype a Python scalar takes on its own (bool, int64, the default float or the
    default complex)."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating)):
        return _default_float
    if isinstance(value, (complex, np.complexfloating)):
        return used(default_complex())
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
    if isinstance(value, (complex, np.complexfloating)) and dt.category != COMPLEX:
        if dt.category == BOOL:
            return bool(value)
        if value.imag != 0:  # (PyTorch's check: the imaginary part would be lost)
            raise RuntimeError(f"value cannot be converted to type {_C_NAMES[dt.name]} without overflow")
        value = value.real
    if (
        dt.category in (BOOL, COMPLEX)
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
    if higher.category == COMPLEX:
        return higher
    if lower.category == COMPLEX:  # a float's precision is kept: float64 * 1j is complex128
        return to_complex(higher) if higher.category == FLOAT else lower
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
        type = to_real(_info_dtype("finfo", type if type is not None else _default_float))
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
