"""Indexing: ``t[...]`` reads and writes, gather, index_select, one_hot (the scatters,
which write at indexed positions, are in :mod:`irgrad.tensor_ops.scatter`).

A read with only ints, slices, ``None`` and ``...`` is the ``slice`` primitive (a
view); one with integer or bool tensors is the ``index`` primitive (a copy), with
bool masks turned into integer indices first, as numpy and PyTorch do.
"""

from __future__ import annotations

import numpy as np

from .. import _tracing
from .._arguments import tensor_arguments
from ..creation import ensure_tensor
from ..dispatch import apply, cast
from ..dtypes import bool_, checked_fill_value, int64
from ..ops import OPS
from ..ops.shapes import broadcast_shapes, fmt, normalize_dim
from ..tensor import Tensor
from .pointwise import add, eq
from .select import nonzero, where
from .shape import broadcast_tensors, clone
from .writes import (
    needs_autograd,
    raise_internal_overlap,
    repeats_elements,
    update_inplace,
    writable_destination,
    write_selected,
)


def _as_index_item(item):
    if isinstance(item, Tensor):
        return item
    if isinstance(item, (list, np.ndarray)) or (isinstance(item, tuple)):
        arr = np.asarray(item)
        if arr.dtype == object:
            raise IndexError(f"index: unsupported index {item!r}")
        if arr.size == 0:
            arr = arr.astype(np.int64)
        return Tensor._wrap(arr)
    if isinstance(item, (bool, np.bool_)):
        return Tensor._wrap(np.asarray(item))
    if isinstance(item, np.integer):
        return int(item)
    return item


def _expand_ellipsis(index: tuple, ndim: int) -> tuple:
    consumed = 0
    for item in index:
        if item is None or item is Ellipsis:
            continue
        if isinstance(item, Tensor) and item._data.dtype == np.bool_:
            consumed += max(item._data.ndim, 1) if item._data.ndim else 0
        else:
            consumed += 1
    if consumed > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    if Ellipsis in [i for i in index if not isinstance(i, Tensor)]:
        pos = [k for k, i in enumerate(index) if i is Ellipsis and not isinstance(i, Tensor)]
        if len(pos) > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        k = pos[0]
        return index[:k] + (slice(None),) * (ndim - consumed) + index[k + 1 :]
    return index + (slice(None),) * (ndim - consumed)


def normalize_index(shape: tuple, index) -> tuple[tuple, list, tuple]:
    """Split a user index into a spec, index tensors and emptied dims.

    Returns ``(spec, tensors, empty)``: with no tensors, ``spec`` is a basic index of
    ints (non-negative, bounds-checked), positive-step slices and None; otherwise each
    ``...`` in ``spec`` stands for the next int64 index array in ``tensors``.  A scalar
    ``False`` index is a ``None`` in ``spec`` whose new dim of the result must then be
    cut to size 0: ``empty`` lists those result dims.
    """
    if not isinstance(index, tuple):
        index = (index,)
    index = _expand_ellipsis(tuple(_as_index_item(i) for i in index), len(shape))
    spec: list = []
    tensors: list = []
    falses: list = []
    dim = 0
    for item in index:
        if item is None:
            spec.append(None)
            continue
        if isinstance(item, Tensor):
            data = item._data
            if data.dtype == np.bool_:
                if data.ndim == 0:  # x[True] adds a dim of size 1; x[False] one of size 0
                    spec.append(None)
                    if not data:
                        falses.append(len(spec) - 1)
                    continue
                mask_shape = shape[dim : dim + data.ndim]
                if data.shape != tuple(mask_shape):
                    raise IndexError(
                        f"The shape of the mask {fmt(data.shape)} at index {dim} does not match "
                        f"the shape of the indexed tensor {fmt(shape)}"
                    )
                _tracing.materialize(item, "boolean-mask indexing (a data-dependent shape)")
                for arr in np.nonzero(data):
                    spec.append(Ellipsis)
                    tensors.append(Tensor._wrap(arr.astype(np.int64)))
                dim += data.ndim
                continue
            if data.dtype.kind not in "iu":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            size = shape[dim]
            # Kept as a tensor (cast and checked as ops), so a tracer records the index as a
            # value, not a constant; negative indices need no rewriting: numpy wraps them.
            spec.append(Ellipsis)
            message = f"index {{value}} is out of bounds for dimension {dim} with size {{high}}"
            tensors.append(check_range(cast(item, int64), -size, size, "IndexError", message))
            dim += 1
            continue
        if isinstance(item, slice):
            if item.step is not None and item.step <= 0:
                raise ValueError("step must be greater than zero")
            start, stop, step = item.indices(shape[dim])
            if stop < start:
                stop = start
            spec.append(slice(start, stop, step))
            dim += 1
            continue
        if isinstance(item, int):
            size = shape[dim]
            if not -size <= item < size:
                raise IndexError(f"index {item} is out of bounds for dimension {dim} with size {size}")
            spec.append(item % size)
            dim += 1
            continue
        kind = TypeError if isinstance(item, str) else IndexError  # torch: a str is a type error
        raise kind(
            "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
            f"valid indices (got {type(item).__name__})"
        )
    if falses and tensors:
        raise IndexError("index: a scalar False index combined with index tensors is not supported")
    empty = tuple(sum(1 for item in spec[:k] if item is None or isinstance(item, slice)) for k in falses)
    return tuple(spec), tensors, empty


@tensor_arguments
def getitem(input: Tensor, index) -> Tensor:
    spec, tensors, empty = normalize_index(input._data.shape, index)
    if tensors:
        return apply(OPS["index"], (input, *tensors), {"spec": spec})
    out = apply(OPS["slice"], (input,), {"index": spec})
    if empty:
        sizes = out._data.shape
        cut = tuple(slice(0, 0 if d in empty else sizes[d], 1) for d in range(max(empty) + 1))
        out = apply(OPS["slice"], (out,), {"index": cut})
    return out


@tensor_arguments
def setitem(input: Tensor, index, value) -> None:
    """``input[index] = value``: in place (recorded for autograd when a grad is involved)."""

    spec, tensors, empty = normalize_index(input._data.shape, index)
    if empty:  # x[False] = v writes nothing
        return
    if isinstance(value, (int, float, np.number)):
        value = checked_fill_value(value, input.dtype)
    value_t = value if isinstance(value, Tensor) else None
    if not needs_autograd(input, value_t) and not _tracing.tracing():
        data = value._data if value_t is not None else np.asarray(value)
        np_index = spec if not tensors else _fill(spec, tensors)
        try:
            if data.ndim and not tensors:  # as _fitted: a [1] value into a scalar slot (a view: cheap)
                extra = data.ndim - input._data[np_index].ndim
                if extra > 0 and all(d == 1 for d in data.shape[:extra]):
                    data = data.reshape(data.shape[extra:])
            if input._data.flags.writeable:
                input._data[np_index] = data
            elif tensors:  # an expanded tensor (or read-only memory): PyTorch's index_put_
                new = np.array(input._data)
                new[np_index] = data
                write_selected(input, new, "index_put_")
                return
            else:  # a broadcast view (an expanded tensor): numpy's are read-only
                region = input._data[(*np_index, Ellipsis)]  # a view, also of one element
                data = np.broadcast_to(data, region.shape)
                if region.size:
                    writable_destination(region, data, "setitem", fill=False)[...] = data
        except ValueError as exc:
            raise RuntimeError(
                f"setitem: cannot assign value of shape {fmt(np.shape(data))} to "
                f"index of tensor of shape {fmt(input._data.shape)}: {exc}"
            ) from None
        input._bump_version()
        return

    if not tensors and repeats_elements(input._data):
        # an expanded tensor: write only the indexed elements, through their view (as
        # PyTorch's copy_ into the slice does); its whole new value would write one
        # memory location once per element that repeats it
        region = getitem(input, index)
        if repeats_elements(region._data):
            raise_internal_overlap("setitem")
        update_inplace(
            region,
            lambda old: _fitted(cast(ensure_tensor(value), old.dtype), old.shape),
            value_t,
            name="setitem",
        )
        return

    def assign(old: Tensor) -> Tensor:
        """``old`` with the indexed elements replaced by ``value``, as ops (the written
        positions come from the index tensors through ops too, so a tracer sees them)."""

        v = cast(ensure_tensor(value), old.dtype)
        if tensors:  # a position written twice keeps the last value
            target_shape = OPS["index"].infer(old, *tensors, spec=spec).shape  # (the shape, not the values)
            return apply(OPS["index_put"], (old, _fitted(v, target_shape), *tensors), {"spec": spec})
        v = _fitted(v, old._data[spec].shape)
        placed = apply(OPS["slice_grad"], (v,), {"shape": old._data.shape, "index": spec})
        mask = np.zeros(old._data.shape, dtype=bool)
        mask[spec] = True
        # a select, not old * keep + placed: an infinite or NaN old value must not leak
        return where(Tensor._wrap(mask), placed, old)

    # index tensors into an expanded tensor: PyTorch's deprecated index_put_ (see write_selected)
    repeated = bool(tensors) and repeats_elements(input._data)
    update_inplace(input, assign, value_t, name="index_put_" if repeated else "setitem", selective=repeated)


@tensor_arguments
def index_put(input: Tensor, indices, values: Tensor, accumulate: bool = False) -> Tensor:
    """``input`` with ``values`` written at ``input[indices]`` (a tuple of index tensors), or
    with ``accumulate`` added there, a position indexed twice adding both, as
    ``torch.index_put``."""
    indices = _index_tensors(indices)
    if values.dtype != input.dtype:
        raise RuntimeError(
            "Index put requires the source and destination dtypes match, got "
            f"{input.dtype.scalar_type} for the destination and {values.dtype.scalar_type} for the source."
        )
    if not accumulate:
        out = clone(input)
        setitem(out, indices, values)
        return out
    spec, tensors, _ = normalize_index(input._data.shape, indices)
    if not tensors:  # 0-d bool masks alone: no position is indexed twice
        out = clone(input)
        setitem(out, indices, add(getitem(input, indices), values))
        return out
    target = OPS["index"].infer(input, *tensors, spec=spec).shape
    added = apply(
        OPS["index_grad"], (_fitted(values, target), *tensors), {"shape": input._data.shape, "spec": spec}
    )
    return add(input, added)


@tensor_arguments
def index_put_(self: Tensor, indices, values: Tensor, accumulate: bool = False) -> Tensor:
    """:func:`index_put` in place."""
    return update_inplace(
        self,
        lambda old: index_put(old, indices, values, accumulate),
        values,
        name="index_put_",
        selective=not accumulate,
    )


def _index_tensors(indices) -> tuple:
    """``index_put``'s indices: a tuple or list of tensors (PyTorch takes nothing else)."""
    indices = tuple(indices)
    for k, t in enumerate(indices):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {k} in argument 1, but got {type(t).__name__}")
    return indices


def _fitted(value: Tensor, shape: tuple) -> Tensor:
    """``value`` broadcast to the written positions' ``shape``, as an assignment does
    (leading size-1 dims beyond their rank dropped first: numpy and PyTorch accept a [1, 1]
    value for a [1] slice)."""
    extra = value._data.ndim - len(shape)
    if extra > 0 and all(d == 1 for d in value._data.shape[:extra]):
        value = value.reshape(value._data.shape[extra:])
    return value.expand(shape)


def _fill(spec: tuple, tensors: list) -> tuple:
    it = iter(t._data for t in tensors)
    return tuple(next(it) if item is Ellipsis else item for item in spec)


@tensor_arguments
def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """``input``'s elements at ``index`` along ``dim`` (a 0-d tensor counts as 1-d)."""
    index = checked_index_dtype("gather", ensure_tensor(index))
    d = normalize_dim("gather", dim, input._data.ndim)
    if max(index._data.ndim, 1) != max(input._data.ndim, 1):
        raise RuntimeError(
            f"gather(): Index tensor must have the same number of dimensions as input tensor "
            f"(index {list(index.shape)}, input {list(input.shape)})"
        )
    return _gathered(input, d, check_index_range("gather", input, d, index))


def _gathered(input: Tensor, d: int, index: Tensor) -> Tensor:
    """The ``gather`` primitive, with 0-d operands read as one-element 1-d ones."""
    out = apply(OPS["gather"], (at_least_1d(input), at_least_1d(index)), {"dim": d})
    return out.reshape(()) if index._data.ndim == 0 else out


@tensor_arguments
def at_least_1d(t: Tensor) -> Tensor:
    """``t``, with a 0-d tensor made a one-element 1-d one (as PyTorch's scatter and
    gather read a scalar)."""
    return t.reshape(1) if t._data.ndim == 0 else t


@tensor_arguments
def checked_index_dtype(op: str, index: Tensor) -> Tensor:
    """``index`` as int64, after PyTorch's check that it holds int32 or int64 values."""
    if index._data.dtype not in (np.int64, np.int32):
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index, got {index.dtype}")
    return cast(index, int64)


@tensor_arguments
def check_range(t: Tensor, low, high, error: str, message: str, **options) -> Tensor:
    """``t``, checked by the ``assert_range`` op (so compiled code checks it too): ``error(message)``
    for a value outside ``[low, high)``; see :mod:`irgrad.ops.checks` for the options."""
    checked = apply(
        OPS["assert_range"], (t,), {"low": low, "high": high, "error": error, "message": message, **options}
    )
    if checked._data is t._data:  # the check returns its input: an in-place write of ``t`` is
        checked._vc = t._shared_version()  # checked's too, so a gradient that saved it sees it, as torch's
    return checked


@tensor_arguments
def check_index_range(op: str, input: Tensor, d: int, index: Tensor) -> Tensor:
    """``index``, checked as torch does: every index must address an element of ``input``
    along ``d`` (PyTorch's gather and scatters take no negative index)."""
    size = input._data.shape[d] if input._data.ndim else 1
    message = (
        f"{op}(): index {{value}} is out of bounds for dimension {d} with size {{high}} "
        "(input {input_shape}, index {shape})"
    )
    return check_range(index, 0, size, "RuntimeError", message, input_shape=tuple(input._data.shape))


@tensor_arguments
def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """``input``'s slices along ``dim`` at the int32/int64 positions of a 0-d or 1-d
    ``index``; a 0-d input takes one index, 0, and gives its element (as PyTorch's)."""
    index = ensure_tensor(index)
    d = normalize_dim("index_select", dim, input._data.ndim)
    if index._data.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if input._data.ndim == 0 and index._data.size != 1:
        raise RuntimeError(
            f"index_select(): Index to scalar can have only 1 value, got {index._data.size} value(s)"
        )
    if index._data.dtype not in (np.int64, np.int32):
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    size = input._data.shape[d] if input._data.ndim else 1
    message = (
        f"index_select(): index {{value}} is out of range for dimension {d} with size {{high}} "
        "(input {input_shape})"
    )
    # PyTorch's index_select takes no negative index (indexing x[i] does)
    index = check_range(index, 0, size, "IndexError", message, input_shape=tuple(input._data.shape))
    if input._data.ndim == 0:
        return getitem(input.reshape(1), index.reshape(-1)).reshape(())
    return getitem(input, (slice(None),) * d + (index.reshape(-1),))


@tensor_arguments
def take(input: Tensor, index: Tensor) -> Tensor:
    """``input``'s elements at ``index`` (of any shape, the result's) into ``input``
    flattened in C order; a negative index counts from the end, as PyTorch's."""
    index = ensure_tensor(index)
    if index._data.dtype != np.int64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {index.dtype.scalar_type}")
    numel = input._data.size
    if numel == 0 and index._data.size:
        raise IndexError("take(): tried to take from an empty tensor")
    message = "out of range: tried to access index {value} on a tensor of {high} elements."
    index = check_range(index, -numel, numel, "IndexError", message)  # numpy wraps negatives
    return apply(OPS["index"], (input.reshape(-1), index), {"spec": (Ellipsis,)})


@tensor_arguments
def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """``gather`` that also takes negative indices (counted from the end), as PyTorch's does;
    without ``dim``, PyTorch's ``gather`` of the flattened input at the flattened indices
    (which takes no negative index)."""
    indices = ensure_tensor(indices)
    if indices._data.dtype != np.int64:
        raise RuntimeError(
            f"torch.take_along_dim(): dtype of indices should be Long but got {indices.dtype.scalar_type}"
        )
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    d = normalize_dim("take_along_dim", dim, input._data.ndim)
    if max(indices._data.ndim, 1) != max(input._data.ndim, 1):
        raise RuntimeError(
            "torch.take_along_dim(): input and indices should have the same number of dimensions, "
            f"but got {input._data.ndim} dimensions for input, and {indices._data.ndim} dimensions for indices"
        )
    if input._data.ndim:  # the other dims broadcast, as PyTorch's
        others = broadcast_shapes(
            "take_along_dim",
            input._data.shape[:d] + (1,) + input._data.shape[d + 1 :],
            indices._data.shape[:d] + (1,) + indices._data.shape[d + 1 :],
        )
        input = input.expand(others[:d] + (input._data.shape[d],) + others[d + 1 :])
        indices = indices.expand(others[:d] + (indices._data.shape[d],) + others[d + 1 :])
    size = input._data.shape[d] if input._data.ndim else 1
    message = f"take_along_dim(): index {{value}} is out of bounds for dimension {d} with size {{high}}"
    return _gathered(
        input, d, check_range(indices, -size, size, "RuntimeError", message)
    )  # numpy wraps negatives


@tensor_arguments
def repeat_interleave(input: Tensor, repeats=None, dim: int | None = None, *, output_size=None) -> Tensor:
    """Each element (or slice along ``dim``) repeated ``repeats`` times, in place; with
    ``dim=None`` the flattened input.  ``repeats`` as a tensor is read as data (a graph
    break when compiled: the result's shape depends on it)."""
    if repeats is None:  # repeat_interleave(repeats_tensor): indices repeated by their counts
        counts = input
        _tracing.materialize(counts, "repeat_interleave(repeats) (a data-dependent shape)")
        return Tensor._wrap(np.repeat(np.arange(counts._data.size, dtype=np.int64), counts._data))
    if dim is None:
        input, dim = input.reshape(-1), 0
    d = normalize_dim("repeat_interleave", dim, input._data.ndim)
    size = input.shape[d] if input._data.ndim else 1
    if isinstance(repeats, Tensor):
        _tracing.materialize(repeats, "repeat_interleave with tensor repeats (a data-dependent shape)")
        counts = np.broadcast_to(repeats._data.astype(np.int64), (size,))
    else:
        counts = np.full(size, int(repeats), np.int64)
    if (counts < 0).any():
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    index = Tensor._wrap(np.repeat(np.arange(size, dtype=np.int64), counts))
    return index_select(input if input._data.ndim else input.reshape(1), d, index)


@tensor_arguments
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """Occurrences of each value of a 1-D non-negative integer tensor (a graph break when
    compiled: the length depends on the data)."""
    if input._data.ndim != 1 or input._data.dtype.kind not in "iu":
        raise RuntimeError(
            f"bincount only supports 1-d non-negative integral inputs, got {input.dtype}{list(input.shape)}"
        )
    _tracing.materialize(input, "bincount() (a data-dependent shape)")
    if input._data.size and input._data.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return Tensor._wrap(np.bincount(input._data, minlength=minlength).astype(np.int64))
    _tracing.materialize(weights, "bincount() weights")
    counted = np.bincount(input._data, weights=weights._data, minlength=minlength)
    return Tensor._wrap(
        counted.astype(weights._data.dtype if weights._data.dtype.kind == "f" else np.float64)
    )


@tensor_arguments
def unique(
    input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim=None
):
    """The distinct values (sorted), and optionally each element's position among them and
    each value's count; with ``dim``, the distinct slices along it.  A graph break when
    compiled: the result's length depends on the data."""
    _tracing.materialize(input, "unique() (a data-dependent shape)")
    data = input._data
    if dim is None:
        values, inverse, counts = np.unique(data.reshape(-1), return_inverse=True, return_counts=True)
        inverse = inverse.reshape(data.shape)
    else:
        d = normalize_dim("unique", dim, data.ndim)
        values, inverse, counts = np.unique(data, return_inverse=True, return_counts=True, axis=d)
        inverse = inverse.reshape(-1)
    out = [Tensor._wrap(values)]
    if return_inverse:
        out.append(Tensor._wrap(inverse.astype(np.int64)))
    if return_counts:
        out.append(Tensor._wrap(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


@tensor_arguments
def argwhere(input: Tensor) -> Tensor:
    return nonzero(input)


@tensor_arguments
def masked_select(input: Tensor, mask: Tensor) -> Tensor:

    mask = ensure_tensor(mask)
    if mask.dtype is not bool_:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask, got {mask.dtype}")
    x, m = broadcast_tensors(input, mask)
    return getitem(x, m)


@tensor_arguments
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding along a new last dim (``nn.functional.one_hot``)."""
    if tensor.dtype is not int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    data = tensor._data
    if num_classes == -1:
        _tracing.materialize(tensor, "one_hot() without num_classes (a data-dependent shape)")
        num_classes = int(data.max()) + 1 if data.size else 0
    tensor = check_range(
        tensor,
        0,
        num_classes,
        "RuntimeError",
        "one_hot: Class values must be smaller than num_classes.",
        below="one_hot: Class values must be non-negative.",
    )
    classes = Tensor._wrap(np.arange(num_classes, dtype=np.int64))
    return cast(eq(tensor.unsqueeze(-1), classes), int64)  # ops, so tracing sees the dependence
