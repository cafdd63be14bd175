"""Collation: turning a list of samples into a batch, with ``torch.utils.data``'s rules.

``default_collate`` stacks tensors along a new first dimension, turns numpy arrays and
numpy scalars into tensors, Python ints into an int64 tensor, Python floats into a
float64 tensor (PyTorch's choice, not the default float dtype), Python bools into a bool
tensor, keeps strings and bytes as a list, and recurses into mappings (per key),
namedtuples (kept) and other sequences (transposed: a batch of pairs becomes a pair of
batches, returned as a list for tuples as PyTorch does). ``collate_fn_map`` makes the
per-type rules extensible exactly like ``torch.utils.data._utils.collate``.
"""

from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ... import dtypes
from ...creation import as_tensor, tensor
from ...tensor import Tensor
from ...tensor_ops.split_join import stack

__all__ = ["collate", "default_collate", "default_collate_fn_map", "default_convert"]

_STR_OBJ_DTYPE = re.compile(r"[SaUO]")
_ERR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"

CollateMap = dict[type | tuple[type, ...], Callable]


def _stack_tensors(batch, *, collate_fn_map: CollateMap | None = None) -> Tensor:
    first = batch[0]
    # Fast path: plain numpy stacking when autograd has nothing to record and no
    # type promotion is involved (np.stack would promote numpy's way, not PyTorch's).
    if all(type(t) is Tensor and not t._rg and t._data.dtype == first._data.dtype for t in batch):
        return Tensor._wrap(np.stack([t._data for t in batch]))
    return stack(batch, 0)


def _collate_numpy_array(batch, *, collate_fn_map: CollateMap | None = None):
    if _STR_OBJ_DTYPE.search(batch[0].dtype.str) is not None:
        raise TypeError(_ERR.format(batch[0].dtype))
    return collate([as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def _collate_numpy_scalar(batch, *, collate_fn_map: CollateMap | None = None) -> Tensor:
    return as_tensor(np.array(batch))


def _collate_float(batch, *, collate_fn_map: CollateMap | None = None) -> Tensor:
    return tensor(batch, dtype=dtypes.float64)


def _collate_int(batch, *, collate_fn_map: CollateMap | None = None) -> Tensor:
    return tensor(batch)


def _collate_str(batch, *, collate_fn_map: CollateMap | None = None):
    return batch


default_collate_fn_map: CollateMap = {
    Tensor: _stack_tensors,
    np.ndarray: _collate_numpy_array,
    (np.bool_, np.number, np.object_): _collate_numpy_scalar,
    float: _collate_float,
    int: _collate_int,
    str: _collate_str,
    bytes: _collate_str,
}


def collate(batch, *, collate_fn_map: CollateMap | None = None) -> Any:
    """Collate ``batch`` (a sequence of samples), dispatching on the first sample's type.

    Types found in ``collate_fn_map`` (exactly, then by ``isinstance`` in insertion order)
    use that function; mappings, namedtuples and sequences are collated element-wise.
    """
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type, fn in collate_fn_map.items():
            if isinstance(elem, collate_type):
                return fn(batch, collate_fn_map=collate_fn_map)

    if isinstance(elem, collections.abc.Mapping):
        items = {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem}
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                # A copy keeps the mapping's own type and extra attributes.
                clone = copy.copy(elem)
                clone.update(items)
                return clone
            return elem_type(items)
        except TypeError:
            return items
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if not all(len(e) == size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [collate(samples, collate_fn_map=collate_fn_map) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return columns  # a list, for backwards compatibility with PyTorch
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, column in enumerate(columns):
                    clone[i] = column
                return clone
            return elem_type(columns)
        except TypeError:
            return columns
    raise TypeError(_ERR.format(elem_type))


def default_collate(batch) -> Any:
    """Merge a list of samples into a batch, as ``torch.utils.data.default_collate``.

    >>> default_collate([(1, 0.5), (2, 1.5)])  # [tensor([1, 2]), tensor([0.5, 1.5], dtype=float64)]
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data) -> Any:
    """Turn numpy arrays and numpy scalars inside ``data`` into tensors, keeping the rest.

    The collate function ``DataLoader`` uses when automatic batching is off
    (``batch_size=None``), as ``torch.utils.data.default_convert``.
    """
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "bytes_", "string_"):
        if isinstance(data, np.ndarray) and _STR_OBJ_DTYPE.search(data.dtype.str) is not None:
            return data
        return as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        items = {key: default_convert(data[key]) for key in data}
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update(items)
                return clone
            return elem_type(items)
        except TypeError:
            return items
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]  # backwards compatibility with PyTorch
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        converted = [default_convert(d) for d in data]
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(converted):
                    clone[i] = d
                return clone
            return elem_type(converted)
        except TypeError:
            return converted
    return data
