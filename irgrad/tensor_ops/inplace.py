"""In-place ops (``add_``, ``zero_``, ``copy_`` ...) through one mechanism.

:func:`update_inplace` computes the new value out of place and writes it into the
tensor's storage, bumping the version counter shared with its views.  When autograd
is involved, the op is recorded on a snapshot of the old value and the tensor takes
over the result's ``grad_fn``, so its history continues correctly; any node that had
saved the old value sees the version change and raises at backward time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import _tracing
from .._arguments import check_tensor_arguments
from ..autograd.grad_mode import STATE, no_grad
from ..autograd.views import inplace_forbidden, refresh_view, scatter_into_base, view_positions
from ..dispatch import cast, ensure_tensor
from ..dtypes import FLOAT, promote_types
from ..tensor import Tensor
from . import pointwise as P


def needs_autograd(target: Tensor, *others) -> bool:
    if not STATE.enabled:
        return False
    return target._rg or any(isinstance(o, Tensor) and o._rg for o in others)


def _check_target(target: Tensor, name: str) -> None:
    if target._node is None and target._rg:
        raise RuntimeError(
            f"{name}: a leaf Variable that requires grad is being used in an in-place operation."
        )


def update_inplace(target: Tensor, compute: Callable[[Tensor], Tensor], *others, name: str) -> Tensor:
    """Replace ``target``'s value with ``compute(old value)`` in its own storage."""
    refresh_view(target)
    if target._base is not None:
        _check_view_writable(target, others, name)
    if not needs_autograd(target, *others):
        with no_grad():
            new = compute(target)
        _write(target, new, name)
        return target
    if target._base is not None:
        return _update_view(target, compute, name)
    _check_target(target, name)
    new = compute(_snapshot(target))
    _write(target, new, name)
    target._node, target._out_nr, target._rg = new._node, new._out_nr, new._rg
    return target


def _check_view_writable(view: Tensor, others: tuple, name: str) -> None:
    """PyTorch's rule for in-place writes to views under autograd: an output of ``split``,
    ``chunk`` or ``unbind``, or a view made in no_grad mode of a tensor that requires grad (a view
    PyTorch says requires grad), may not be written while autograd records."""
    forbidden = inplace_forbidden(view)
    if forbidden is not None and (needs_autograd(view, *others) or STATE.enabled and view._base._rg):
        raise RuntimeError(f"{name}: {forbidden}")


def _update_view(view: Tensor, compute: Callable[[Tensor], Tensor], name: str) -> Tensor:
    """An in-place op on a view (PyTorch's CopySlices): the base's new history is its old
    value with the view's elements replaced by the result; the view then derives from it."""
    base = view._base
    if base._node is None and base._rg:
        raise RuntimeError(
            f"{name}: a view of a leaf Variable that requires grad is being used in an in-place operation."
        )
    positions = view_positions(view)
    if positions is None:
        raise RuntimeError(
            f"{name}: in-place operation on a {view.dtype} view made by view(dtype) while autograd "
            "records it is not supported; clone() the view first."
        )
    old_base = _snapshot(base)
    new = compute(_snapshot(view))
    _write(view, new, name)
    new_base = scatter_into_base(old_base, positions, new)
    base._node, base._out_nr, base._rg = new_base._node, new_base._out_nr, new_base._rg
    refresh_view(view)  # the write moved the version on: the view now derives from the new base
    return view


def _snapshot(t: Tensor) -> Tensor:
    """A copy of ``t``'s current value that keeps its history: what an in-place op reads."""
    copy = Tensor._wrap(t._data.copy(), t._node, t._out_nr, t._rg)
    _tracing.alias(copy, t)  # a tracer reads the copy as the value t holds now
    return copy


def _write(target: Tensor, new: Tensor, name: str) -> None:
    src, dst = new._data, target._data
    if src.dtype != dst.dtype and not _castable(new.dtype, target.dtype):
        raise RuntimeError(
            f"{name}: result type {new.dtype.name.capitalize()} can't be cast to the desired "
            f"output type {target.dtype.name.capitalize()}"
        )
    if src.shape != dst.shape:
        try:
            src = np.broadcast_to(src, dst.shape)
        except ValueError:
            raise RuntimeError(
                f"{name}: output with shape {list(dst.shape)} doesn't match the broadcast shape "
                f"{list(src.shape)}"
            ) from None
    if not dst.flags.writeable:
        raise RuntimeError(
            f"{name}: unsupported operation: more than one element of the written-to tensor refers "
            "to a single memory location. Please clone() the tensor before performing the operation."
        )
    np.copyto(dst, src, casting="unsafe")
    target._bump_version()
    _tracing.inplace(target, new)


def _castable(src, dst) -> bool:
    return promote_types(src, dst) is dst or src.category <= dst.category


def _binary_inplace(name: str, fn):
    def method(self: Tensor, other, **kw) -> Tensor:
        return update_inplace(self, lambda old: fn(old, other, **kw), other, name=name)

    method.__name__ = name
    return method


add_ = _binary_inplace("add_", P.add)
sub_ = _binary_inplace("sub_", P.sub)
mul_ = _binary_inplace("mul_", P.mul)
div_ = _binary_inplace("div_", P.div)
pow_ = _binary_inplace("pow_", P.pow)
maximum_ = _binary_inplace("maximum_", P.maximum)
minimum_ = _binary_inplace("minimum_", P.minimum)
remainder_ = _binary_inplace("remainder_", P.remainder)
floor_divide_ = _binary_inplace("floor_divide_", P.floor_divide)
logical_and_ = _binary_inplace("logical_and_", P.logical_and)
logical_or_ = _binary_inplace("logical_or_", P.logical_or)
bitwise_and_ = _binary_inplace("bitwise_and_", P.bitwise_and)
bitwise_or_ = _binary_inplace("bitwise_or_", P.bitwise_or)
bitwise_xor_ = _binary_inplace("bitwise_xor_", P.bitwise_xor)


def _unary_inplace(name: str, fn):
    def method(self: Tensor) -> Tensor:
        return update_inplace(self, fn, name=name)

    method.__name__ = name
    return method


neg_ = _unary_inplace("neg_", P.neg)
abs_ = _unary_inplace("abs_", P.abs)
exp_ = _unary_inplace("exp_", P.exp)
log_ = _unary_inplace("log_", P.log)
sqrt_ = _unary_inplace("sqrt_", P.sqrt)
relu_ = _unary_inplace("relu_", P.relu)
sigmoid_ = _unary_inplace("sigmoid_", P.sigmoid)
tanh_ = _unary_inplace("tanh_", P.tanh)
floor_ = _unary_inplace("floor_", P.floor)
ceil_ = _unary_inplace("ceil_", P.ceil)
round_ = _unary_inplace("round_", P.round)
reciprocal_ = _unary_inplace("reciprocal_", P.reciprocal)
sign_ = _unary_inplace("sign_", P.sign)


def clamp_(self: Tensor, min=None, max=None) -> Tensor:
    return update_inplace(self, lambda old: P.clamp(old, min, max), min, max, name="clamp_")


clip_ = clamp_


def masked_fill_(self: Tensor, mask: Tensor, value) -> Tensor:
    return update_inplace(self, lambda old: P.masked_fill(old, mask, value), value, name="masked_fill_")


def addcmul_(self: Tensor, tensor1, tensor2, *, value=1) -> Tensor:
    return update_inplace(
        self, lambda old: P.addcmul(old, tensor1, tensor2, value=value), tensor1, tensor2, name="addcmul_"
    )


def addcdiv_(self: Tensor, tensor1, tensor2, *, value=1) -> Tensor:
    return update_inplace(
        self, lambda old: P.addcdiv(old, tensor1, tensor2, value=value), tensor1, tensor2, name="addcdiv_"
    )


def lerp_(self: Tensor, end, weight) -> Tensor:
    return update_inplace(self, lambda old: P.lerp(old, end, weight), end, weight, name="lerp_")


def copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast, converted to self's dtype) into self.

    Under autograd the new value is ``where(True, src, old)``: PyTorch's CopyBackwards,
    which sends the gradient to ``src`` and zeros (not None) to self's old history, and
    gives self a ``grad_fn`` even when ``src`` is a leaf."""
    src = ensure_tensor(src)
    if not needs_autograd(self, src):
        return update_inplace(self, lambda old: cast(src, old.dtype), src, name="copy_")
    everywhere = Tensor._wrap(np.ones(self._data.shape, dtype=bool))
    return update_inplace(self, lambda old: P.where(everywhere, cast(src, old.dtype), old), src, name="copy_")


def fill_(self: Tensor, value) -> Tensor:
    if isinstance(value, Tensor) and value._data.ndim:
        raise RuntimeError(
            f"fill_ only supports 0-dimension value tensor but got tensor with {value._data.ndim} dimensions."
        )
    return copy_(self, value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value)))


def zero_(self: Tensor) -> Tensor:
    return fill_(self, 0)


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    from ..random import resolve

    _check_float("uniform_", self)
    values = resolve(generator).uniform(a, b, self._data.shape)
    return _fill_random(self, values, "uniform_")


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    from ..random import resolve

    _check_float("normal_", self)
    values = resolve(generator).normal(mean, std, self._data.shape)
    return _fill_random(self, values, "normal_")


def _check_float(name: str, t: Tensor) -> None:
    if t.dtype.category != FLOAT:
        raise RuntimeError(f"{name} expects a floating point tensor, got {t.dtype}")


def _fill_random(self: Tensor, values: np.ndarray, name: str) -> Tensor:
    return update_inplace(self, lambda old: Tensor._wrap(values.astype(old._data.dtype)), name=name)


check_tensor_arguments(globals())
