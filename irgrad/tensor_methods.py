"""Attach op methods, operators and ``backward`` to :class:`~irgrad.tensor.Tensor`.

Each op has one implementation in :mod:`irgrad.tensor_ops`; this table makes it
``Tensor.<name>`` too, so ``x.exp()`` and ``irgrad.exp(x)`` cannot drift apart.
The tensor module sits below every layer these methods come from, so it cannot
import them itself: this module, above them all, attaches them once at import of
``irgrad``.
"""

from __future__ import annotations

from numbers import Number
from typing import Any

import numpy as np

from . import creation
from ._arguments import list_keyword, unchecked_method
from .autograd.engine import backward
from .autograd.op_namespaces import TENSOR_OPS
from .creation import full, multinomial, tensor
from .dispatch import cast
from .dtypes import bool_, complex64, complex128, float16, float32, float64, int8, int16, int32, int64, uint8
from .memory_formats import check_memory_format, preserve_format, suggest_memory_format
from .multiprocessing import tensor_sharing
from .ops.movement import sum_to
from .tensor import NUMPY_OF_REQUIRES_GRAD, Tensor, to_target
from .tensor_ops import arrange as AR
from .tensor_ops import bessel as BES
from .tensor_ops import complex_parts, inplace_shape, python_apply, tensor_facts
from .tensor_ops import composite_reductions as CR
from .tensor_ops import decompositions as DEC
from .tensor_ops import diagonals as DG
from .tensor_ops import factorizations as FZ
from .tensor_ops import float_parts as FP
from .tensor_ops import histogram as H
from .tensor_ops import incomplete_gamma as IG
from .tensor_ops import index_along as IA
from .tensor_ops import index_reduce as IR
from .tensor_ops import indexing as I
from .tensor_ops import inplace as IP
from .tensor_ops import inplace_variants as IPV
from .tensor_ops import lapack as LA
from .tensor_ops import legacy as LEG
from .tensor_ops import linalg as L
from .tensor_ops import order_statistics as OS
from .tensor_ops import pointwise as P
from .tensor_ops import pointwise_composites as PC
from .tensor_ops import predicates as PRD
from .tensor_ops import products as PR
from .tensor_ops import random_fill as RF
from .tensor_ops import reduce as R
from .tensor_ops import scan as SC
from .tensor_ops import scatter as SCT
from .tensor_ops import shape as S
from .tensor_ops import shifts as SH
from .tensor_ops import sliding as WIN
from .tensor_ops import special as SPF
from .tensor_ops import split_join as SJ
from .tensor_ops import unique_consecutive as UC
from .tensor_ops import view_scatter as VS
from .tensor_ops.norms import tensor_norm

_METHODS = {
    module: [name for name in names.split()]
    for module, names in {
        P: """neg negative abs absolute sign floor ceil trunc fix relu exp expm1 log log1p sqrt rsqrt
              reciprocal sin cos tan tanh asin arcsin acos arccos atan arctan sinh cosh asinh arcsinh
              acosh arccosh atanh arctanh sigmoid erf logical_not bitwise_not isnan isinf isfinite mul
              multiply floor_divide remainder fmod pow atan2 maximum minimum eq ne not_equal lt less le
              less_equal gt greater ge greater_equal logical_and logical_or logical_xor bitwise_and
              bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift add sub subtract div divide
              true_divide square log2 log10 exp2 round
              clamp clip clamp_min clamp_max masked_fill lerp addcmul addcdiv nan_to_num isclose allclose equal""",
        R: """sum prod mean var std amax amin argmax argmin max min logsumexp softmax log_softmax cumsum
              all any count_nonzero sort argsort topk kthvalue dist""",
        S: """reshape view view_as reshape_as flatten unflatten squeeze unsqueeze permute transpose
              swapaxes swapdims t movedim expand expand_as broadcast_to repeat tile contiguous clone
              detach""",
        SJ: "narrow select split chunk tensor_split unbind",
        SH: "flip roll diff",
        DG: "tril triu diagonal diag_embed diag",
        I: """gather index_select index_put index_put_ take take_along_dim nonzero argwhere masked_select
              repeat_interleave bincount unique""",
        SCT: """scatter scatter_ scatter_add scatter_add_ scatter_reduce scatter_reduce_ masked_scatter
                masked_scatter_""",
        IA: "index_add index_add_ index_copy index_copy_ index_fill index_fill_",
        IR: "index_reduce index_reduce_",
        VS: "select_scatter slice_scatter diagonal_scatter",
        SC: "cumprod cummax cummin",
        H: "histc histogram",
        FP: "frexp nextafter",
        UC: "unique_consecutive",
        WIN: "unfold",
        OS: "median nanmedian quantile nanquantile msort mode",
        PR: "kron cross vdot matrix_power baddbmm addbmm addmv addr",
        CR: "aminmax logcumsumexp cov corrcoef nansum nanmean renorm",
        PRD: "is_complex is_nonzero isposinf isneginf isreal",
        SPF: "lgamma digamma erfinv mvlgamma lgamma_ digamma_ polygamma_ erfinv_ mvlgamma_",
        BES: "i0 i0_",
        IG: "igamma igamma_ igammac igammac_",
        RF: "bernoulli bernoulli_ exponential_ geometric_ cauchy_ log_normal_ random_",
        PC: """erfc copysign signbit sgn positive frac deg2rad rad2deg sinc logit float_power ldexp xlogy
               logaddexp logaddexp2 hypot fmax fmin heaviside gcd lcm""",
        AR: "moveaxis rot90 flipud fliplr hsplit vsplit dsplit diagflat",
        L: "matmul mm bmm mv dot inner outer ger addmm trace",
        LA: "inverse det slogdet logdet",
        DEC: "pinverse",
        FZ: "matrix_exp cholesky_solve cholesky_inverse triangular_solve",
        IP: """add_ sub_ mul_ div_ pow_ maximum_ minimum_ remainder_ floor_divide_ logical_and_
               logical_or_ bitwise_and_ bitwise_or_ bitwise_xor_ bitwise_left_shift_ bitwise_right_shift_
               neg_ abs_ exp_ log_ sqrt_ relu_
               asin_ arcsin_ acos_ arccos_ atan_ arctan_ sinh_ cosh_ asinh_ arcsinh_ acosh_ arccosh_
               atanh_ arctanh_ sgn_ frac_ sinc_ deg2rad_ rad2deg_ copysign_ hypot_ xlogy_ heaviside_ gcd_
               lcm_ ldexp_ logit_ float_power_ erfc_ baddbmm_ addbmm_ addmv_ addr_
               sigmoid_ tanh_ floor_ ceil_ round_ reciprocal_ sign_ clamp_ clip_ masked_fill_ addcmul_
               addcdiv_ lerp_ copy_ fill_ fill_diagonal_ zero_ uniform_ normal_ tril_ triu_""",
    }.items()
}


def _cuda(self: Tensor, device: Any = None, non_blocking: bool = False, **kwargs: Any) -> Tensor:
    """irgrad runs on the CPU only: raises, as ``.to("cuda")`` does."""
    to_target((), device_arg="cuda" if device is None else f"cuda:{device}")
    return self


def _to(
    self: Tensor,
    *args,
    dtype=None,
    device=None,
    copy: bool = False,
    non_blocking: bool = False,
    memory_format=None,
) -> Tensor:
    """``to(dtype)``, ``to(device)``, ``to(other)``; returns self when nothing changes.

    A ``memory_format`` other than ``preserve_format`` also changes nothing when
    ``self``'s strides already suggest it (PyTorch's rule: a transposed tensor asked for
    ``contiguous_format`` is returned as it is); otherwise the result is stored in it."""
    target = to_target(args, dtype, device)
    result = self if target is None else cast(self, target, discard_imag=True)
    if memory_format is not None and memory_format is not preserve_format:
        check_memory_format("to", memory_format)
        if result is not self:
            result = S.contiguous(result, memory_format)
        elif suggest_memory_format(self.shape, self.stride()) is not memory_format:
            result = S.clone(self, memory_format=memory_format)
    if copy and result is self:
        return S.clone(self, memory_format=memory_format)
    return result


def _type(self: Tensor, dtype=None):
    """The legacy type name, PyTorch's (``"torch.FloatTensor"``: code compares it with that
    string), or ``self`` in the dtype of a dtype, a legacy type (``irgrad.LongTensor``) or
    its name (``"torch.LongTensor"``, ``"irgrad.LongTensor"``)."""
    if dtype is None:
        return f"torch.{LEG.NAMES[self.dtype]}Tensor"
    return _to(self, LEG.type_target(dtype))


def _type_as(self: Tensor, other: Tensor) -> Tensor:
    """``self`` in ``other``'s dtype (itself when they agree), as ``Tensor.type_as``."""
    if not isinstance(other, Tensor):
        raise TypeError(
            f"type_as(): argument 'other' (position 1) must be Tensor, not {type(other).__name__}"
        )
    return _to(self, other.dtype)


def _converter(dt):
    def method(self: Tensor, memory_format=preserve_format) -> Tensor:
        return _to(self, dt, memory_format=memory_format)

    return method


def _new_factory(fill):
    def method(
        self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False
    ) -> Tensor:
        return getattr(creation, fill)(
            *size, dtype=dtype or self.dtype, requires_grad=requires_grad, pin_memory=pin_memory
        )

    method.__name__ = method.__qualname__ = f"new_{fill}"
    return list_keyword(method)  # x.new_zeros(size=(2, 3))


def _new_full(
    self: Tensor,
    size,
    fill_value,
    *,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    return full(
        size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad, pin_memory=pin_memory
    )


def _new_tensor(self: Tensor, data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)


def _reciprocal_times(self, other):
    """``other / self`` as PyTorch computes it, ``reciprocal(self) * other`` (its last bit
    can differ from a division)."""
    return P.mul(P.reciprocal(self), other)


def _reflect(fn):
    return lambda self, other: fn(other, self)


# What a binary operator takes, or rejects with its own TypeError: tensors, Python's and
# numpy's numbers (numpy arrays: see _with_array).  Any other operand gets NotImplemented
# (:func:`_operator`).
_OPERANDS = (Tensor, Number, np.generic)
_ARITHMETIC = (
    "add",
    "sub",
    "mul",
    "truediv",
    "floordiv",
    "mod",
    "pow",
    "matmul",
    "and",
    "or",
    "xor",
    "lshift",
    "rshift",
)
_COMPARISONS = ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__")
_BINARY_OPERATORS = frozenset(f"__{p}{name}__" for name in _ARITHMETIC for p in ("", "r", "i")) | set(
    _COMPARISONS
)
# with a numpy array operand, these return NotImplemented whether or not the tensor
# requires grad (see _with_array)
_LEFT_TO_PYTHON = frozenset(f"__r{name}__" for name in _ARITHMETIC) | set(_COMPARISONS[1:])


def _operator(fn, name: str):
    """``fn`` as a binary operator method: an operand of another kind gives NotImplemented,
    as PyTorch's operators do, so Python tries the operand's reflected method
    (``__radd__``, or ``__gt__`` for ``<``) and otherwise falls back as for any object:
    ``t == None`` is False, ``t != "a"`` True, ``t + object()`` Python's "unsupported
    operand" TypeError.  (The ``try`` costs nothing on the usual path.)"""

    def method(self, other):
        try:
            return fn(self, other)
        except TypeError:
            if isinstance(other, np.ndarray):
                return _with_array(fn, name, self, other)
            if isinstance(other, _OPERANDS):
                raise
            return NotImplemented

    method.__name__ = name
    method.__doc__ = fn.__doc__
    return method


def _with_array(fn, name: str, self: Tensor, other: np.ndarray):
    """A binary operator with a numpy array operand, as PyTorch's: ``==`` compares with
    the array's values; ``array / t`` is ``t.reciprocal() * array``; the other operators
    leave the array to numpy, returning NotImplemented: numpy's reflected operator then
    computes on ``self``'s array with numpy's type promotion and hands the result to
    ``Tensor.__array_wrap__``, which a tensor that requires grad refuses (it would lose
    its gradient).  An array on the left, ``!=`` and the orderings end in Python's
    fallbacks, since numpy defers to the tensor's ``__array_priority__``: TypeError, and
    ``!=`` by identity."""
    if name == "__eq__":
        return fn(self, Tensor._wrap(np.asarray(other)))
    if name == "__rtruediv__":
        return self.reciprocal() * other
    if name in _LEFT_TO_PYTHON:
        return NotImplemented
    if self._rg:
        raise RuntimeError(NUMPY_OF_REQUIRES_GRAD)
    return NotImplemented


def _backward(self: Tensor, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
    """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see ``autograd.backward``)."""
    backward(self, gradient, retain_graph, create_graph, inputs=inputs)


def _sum_to_size(self: Tensor, *size) -> Tensor:
    size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
    return sum_to(TENSOR_OPS, self, tuple(size))


def _invert(self: Tensor) -> Tensor:
    if self.dtype is bool_:
        return P.logical_not(self)
    if self.dtype.is_floating_point:
        raise TypeError(
            f"~ (operator.invert) is only implemented on integer and Boolean-type tensors, got {self.dtype}"
        )
    return P.bitwise_not(self)


def _where(self: Tensor, condition, other) -> Tensor:
    """``Tensor.where(condition, other)``: self where condition holds, else other."""
    return P.where(condition, self, other)


def _and(a, b):
    return P.bitwise_and(a, b)


def _or(a, b):
    return P.bitwise_or(a, b)


def _xor(a, b):
    return P.bitwise_xor(a, b)


def _rmatmul(self: Tensor, other) -> Tensor:
    return L.matmul(other, self)


def install() -> None:
    for module, names in _METHODS.items():
        for name in names:
            setattr(Tensor, name, unchecked_method(getattr(module, name), name))
    extra = {
        "where": _where,
        "__getitem__": I.getitem,
        "__setitem__": I.setitem,
        "__add__": P.add,
        "__radd__": _reflect(P.add),
        "__iadd__": IP.add_,
        "__sub__": P.sub,
        "__rsub__": _reflect(P.sub),
        "__isub__": IP.sub_,
        "__mul__": P.mul,
        "__rmul__": _reflect(P.mul),
        "__imul__": IP.mul_,
        "__truediv__": P.div,
        "__rtruediv__": _reciprocal_times,
        "__itruediv__": IP.div_,
        "__floordiv__": P.floor_divide,
        "__rfloordiv__": _reflect(P.floor_divide),
        "__mod__": P.remainder,
        "__rmod__": _reflect(P.remainder),
        "__pow__": P.pow,
        "__rpow__": _reflect(P.pow),
        "__ipow__": IP.pow_,
        "__matmul__": L.matmul,
        "__rmatmul__": _rmatmul,
        "__neg__": P.neg,
        "__pos__": lambda self: self,
        "__abs__": P.abs,
        "__invert__": _invert,
        "__and__": _and,
        "__rand__": _reflect(_and),
        "__iand__": IP.bitwise_and_,
        "__or__": _or,
        "__ror__": _reflect(_or),
        "__ior__": IP.bitwise_or_,
        "__xor__": _xor,
        "__rxor__": _reflect(_xor),
        "__lshift__": P.bitwise_left_shift,
        "__rlshift__": _reflect(P.bitwise_left_shift),
        "__ilshift__": IP.bitwise_left_shift_,
        "__rshift__": P.bitwise_right_shift,
        "__rrshift__": _reflect(P.bitwise_right_shift),
        "__irshift__": IP.bitwise_right_shift_,
        "__eq__": P.eq,
        "__ne__": P.ne,
        "__lt__": P.lt,
        "__le__": P.le,
        "__gt__": P.gt,
        "__ge__": P.ge,
        "to": _to,
        "type": _type,
        "type_as": _type_as,
        "float": _converter(float32),
        "double": _converter(float64),
        "half": _converter(float16),
        "cfloat": _converter(complex64),
        "cdouble": _converter(complex128),
        "long": _converter(int64),
        "int": _converter(int32),
        "short": _converter(int16),
        "char": _converter(int8),
        "byte": _converter(uint8),
        "bool": _converter(bool_),
        "cpu": lambda self, *a, **k: self,
        "cuda": _cuda,
        "multinomial": multinomial,
        "new_zeros": _new_factory("zeros"),
        "new_ones": _new_factory("ones"),
        "new_empty": _new_factory("empty"),
        "new_full": _new_full,
        "new_tensor": _new_tensor,
        "sum_to_size": _sum_to_size,
        "backward": _backward,
        "polygamma": SPF.polygamma_method,
        "arctan2": P.atan2,
        "norm": tensor_norm,
        "svd": DEC.legacy_svd,
        "lu": FZ.legacy_lu,
        "qr": DEC.legacy_qr,
        **IPV.METHODS,
        **inplace_shape.METHODS,
        **python_apply.METHODS,
        **tensor_facts.METHODS,
        **tensor_sharing.METHODS,
        **complex_parts.METHODS,
        "T": property(S.full_transpose),
        "mT": property(S.matrix_transpose),
    }
    for name, fn in extra.items():
        method = unchecked_method(fn, name)
        setattr(Tensor, name, _operator(method, name) if name in _BINARY_OPERATORS else method)
