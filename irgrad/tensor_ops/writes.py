"""In-place writes through one mechanism (and ``copy_``, the write every ``out=`` uses).

:func:`update_inplace` computes the new value out of place and writes it into the
tensor's storage, bumping the version counter shared with its views.  When autograd
is involved, the op is recorded on a snapshot of the old value and the tensor takes
over the result's ``grad_fn``, so its history continues correctly; any node that had
saved the old value sees the version change and raises at backward time.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from .. import _tracing
from .._arguments import tensor_arguments
from ..creation import ensure_tensor
from ..dispatch import cast
from ..dtypes import promote_types
from ..recording.function import Function
from ..recording.grad_mode import STATE, no_grad
from ..recording.views import inplace_forbidden, view_positions
from ..tensor import Tensor, refresh_view
from ..view_replay import scatter_into_base
from .select import where


def needs_autograd(target: Tensor, *others) -> bool:
    if not STATE.enabled:
        return False
    return target._rg or any(isinstance(o, Tensor) and o._rg for o in others)


def _check_target(target: Tensor, name: str) -> None:
    if target._node is None and target._rg:
        raise RuntimeError(
            f"{name}: a leaf Variable that requires grad is being used in an in-place operation."
        )


def update_inplace(
    target: Tensor, compute: Callable[[Tensor], Tensor], *others, name: str, selective: bool = False
) -> Tensor:
    """Replace ``target``'s value with ``compute(old value)`` in its own storage.

    ``selective``: the op writes values at positions it selects (``masked_fill_``,
    ``index_fill_``), which PyTorch allows, deprecated, on an expanded tensor without
    autograd (see :func:`write_selected`)."""
    refresh_view(target)
    if target._base is not None:
        _check_view_writable(target, others, name)
    if not needs_autograd(target, *others):
        with no_grad():
            new = compute(target)
        if selective and not target._data.flags.writeable and repeats_elements(target._data):
            write_selected(target, new._data, name)
        else:
            _write(target, new, name)
        return target
    if target._base is not None:
        if selective and repeats_elements(target._data) and view_positions(target) is not None:
            return _update_repeated_view(target, compute, name)
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
            f"{name}: in-place operation on a {view.dtype} view of a {view._base.dtype} tensor (view(dtype), "
            ".real, .imag, view_as_real, view_as_complex) while autograd records it is not supported; "
            "clone() the view first."
        )
    old_base = _snapshot(base)
    new = compute(_snapshot(view))
    _write(view, new, name)
    new_base = scatter_into_base(old_base, positions, new)
    base._node, base._out_nr, base._rg = new_base._node, new_base._out_nr, new_base._rg
    refresh_view(view)  # the write moved the version on: the view now derives from the new base
    return view


def _update_repeated_view(view: Tensor, compute: Callable[[Tensor], Tensor], name: str) -> Tensor:
    """A selective write (``masked_fill_``, ``index_put_``) into an expanded view under
    autograd, as PyTorch's ``CopySlices`` over it: the selected positions are written (as
    :func:`write_selected`); the gradient of the base's new value reaches the written
    values through the view's positions (each value gets its position's gradient, also
    where a later one overwrote it), and backward raises the internal-overlap error where
    it would have to reach the base's old value, whose elements the view repeats."""
    base = view._base
    _check_target(base, name)
    old_base = _snapshot(base)
    new = compute(_snapshot(view))
    write_selected(view, new._data, name)
    new_base = _WriteIntoRepeatedMemory.apply(old_base, new, base._data.copy(), view_positions(view), name)
    base._node, base._out_nr, base._rg = new_base._node, new_base._out_nr, new_base._rg
    refresh_view(view)
    return view


class _WriteIntoRepeatedMemory(Function):
    """The history of a base written through a view with repeated memory: its value is
    what the write left; see :func:`_update_repeated_view` for its gradient."""

    @staticmethod
    def forward(
        ctx, old_base: Tensor, new: Tensor, written: np.ndarray, positions: np.ndarray, name: str
    ) -> Tensor:
        ctx.positions, ctx.name = positions, name
        return Tensor._wrap(written)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple:
        if ctx.needs_input_grad[0]:
            raise_internal_overlap(ctx.name)
        flat = grad.reshape(-1)
        return None, flat[Tensor._wrap(ctx.positions)], None, None, None


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
    if not dst.flags.writeable and dst.size:
        dst = writable_destination(dst, src, name)
    if dst.size:  # an empty write (into an empty slice of a broadcast view too) overlaps nothing
        np.copyto(dst, src, casting="unsafe")
    target._bump_version()
    _tracing.inplace(target, new)


def writable_destination(dst: np.ndarray, src: np.ndarray, name: str, fill: bool = True) -> np.ndarray:
    """A writable array over ``dst``'s elements (a read-only broadcast view, non-empty)
    for writing ``src`` (broadcast to it), where no element is repeated (a 0-d tensor
    expanded to one element, one element of an expanded tensor) or, for an in-place op
    (``fill``), all get one value (PyTorch allows ``fill_`` on an expanded tensor, not
    ``t[:] = 5``).  Raises PyTorch's internal-overlap error otherwise."""
    one_value = fill and not any(n > 1 and s != 0 for n, s in zip(src.shape, src.strides))
    repeated = repeats_elements(dst)
    alias = _writable_alias(dst) if one_value or not repeated else None
    if alias is None and not repeated:  # distinct elements: the memory itself is read-only
        raise RuntimeError(
            f"{name}: the tensor's memory is read-only (a non-writable numpy array shared by "
            "from_numpy, such as np.frombuffer's); clone() the tensor before writing to it"
        )
    if alias is None:
        raise_internal_overlap(name)
    return alias


def write_selected(target: Tensor, new: np.ndarray, name: str) -> None:
    """Write ``new`` into an expanded ``target`` (repeated elements) where it changes
    ``target``'s value, in C order: PyTorch's ``masked_fill_``, ``index_fill_`` and
    ``index_put_`` write the positions they select (a memory location takes the value of
    the last selected element over it) and warn that this is deprecated.  Memory that is
    not the process's own writable array raises as any write does."""
    dst = target._data
    if not repeats_elements(dst):
        writable_destination(dst, np.broadcast_to(new, dst.shape), name, fill=False)[...] = new
        target._bump_version()
        return
    alias = _writable_alias(dst)
    if alias is None:
        raise_internal_overlap(name)
    _tracing.untraceable(f"{name} of an expanded tensor")
    warnings.warn(
        f"Use of {name} on expanded tensors is deprecated. Please clone() the tensor before performing "
        "this operation. This also applies to advanced indexing e.g. tensor[mask] = scalar",
        UserWarning,
        stacklevel=4,
    )
    new = np.broadcast_to(new, dst.shape).astype(dst.dtype, copy=False)
    changed = _bits(new) != _bits(dst)
    alias[changed] = new[changed]
    target._bump_version()


def _bits(array: np.ndarray) -> np.ndarray:
    """``array``'s elements as unsigned integers of their size (so -0.0 differs from 0.0 and
    NaN equals itself), or its values where no such type exists."""
    unsigned = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}.get(array.dtype.itemsize)
    return array if unsigned is None else array.view(unsigned)


def repeats_elements(array: np.ndarray) -> bool:
    """Whether two of ``array``'s elements may be one memory location: a broadcast view
    (a stride of 0), or windows that overlap (``unfold`` with a step below the size).  The
    dims in order of stride must each step past everything the smaller ones reach; the
    layouts irgrad's views make (slices, transposes, diagonals, windows) overlap exactly
    when they do not.  An empty array, whose strides numpy may leave 0, repeats nothing."""
    if array.size <= 1:
        return False
    reach = 0  # bytes spanned by the dims of smaller stride
    for stride, n in sorted((abs(s), n) for n, s in zip(array.shape, array.strides) if n > 1):
        if stride <= reach:
            return True
        reach += stride * (n - 1)
    return False


def raise_internal_overlap(name: str) -> None:
    """PyTorch's error for a write to repeated elements of one tensor."""
    raise RuntimeError(
        f"{name}: unsupported operation: more than one element of the written-to tensor refers "
        "to a single memory location. Please clone() the tensor before performing the operation."
    )


def _writable_alias(view: np.ndarray) -> np.ndarray | None:
    """A writable array over ``view``'s elements (numpy makes broadcast views read-only; a
    fill writes one value to every element, so PyTorch allows it on an expanded tensor), or
    None when the memory is not the process's own writable array."""
    root = view
    while True:
        base = root.base
        if not isinstance(base, np.ndarray):  # as_strided's views (unfold) hold it one step away
            base = getattr(base, "base", None)
        if not isinstance(base, np.ndarray):
            break
        root = base
    if not root.flags.writeable or not root.flags.c_contiguous:
        return None
    offset = view.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return np.ndarray(view.shape, view.dtype, buffer=root, offset=offset, strides=view.strides)


def _castable(src, dst) -> bool:
    return promote_types(src, dst) is dst or src.category <= dst.category


@tensor_arguments
def copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast, converted to self's dtype) into self.

    Under autograd the new value is ``where(True, src, old)``: PyTorch's CopyBackwards,
    which sends the gradient to ``src`` and zeros (not None) to self's old history, and
    gives self a ``grad_fn`` even when ``src`` is a leaf."""
    src = ensure_tensor(src)
    if not needs_autograd(self, src):
        return update_inplace(self, lambda old: cast(src, old.dtype, discard_imag=True), src, name="copy_")
    everywhere = Tensor._wrap(np.ones(self._data.shape, dtype=bool))
    return update_inplace(
        self, lambda old: where(everywhere, cast(src, old.dtype, discard_imag=True), old), src, name="copy_"
    )
