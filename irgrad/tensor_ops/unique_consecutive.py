"""``unique_consecutive``: each run of equal consecutive elements (or slices along
``dim``) kept once, as PyTorch's, with each element's run number and each run's length.
The result's length depends on the data, so a compiled call breaks the graph here."""

from __future__ import annotations

import numpy as np

from .. import _tracing
from .._arguments import tensor_arguments
from ..ops.shapes import normalize_dim
from ..tensor import Tensor


@tensor_arguments
def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """The first element of every run of equal consecutive ones (of the flattened input,
    or slices along ``dim``); with ``return_inverse`` each element's run (input's shape,
    or ``dim``'s length), with ``return_counts`` each run's length (both int64)."""
    _tracing.materialize(input, "unique_consecutive() (a data-dependent shape)")
    data = input._data
    if dim is None:
        rows = data.reshape(-1, 1)
    else:
        d = normalize_dim("unique_consecutive", dim, data.ndim)
        _check_empty_slices(data.shape, d)
        rows = np.moveaxis(data, d, 0)
        rows = rows.reshape(len(rows), rows[0].size if len(rows) else 0)
    starts = np.ones(len(rows), dtype=bool)
    if len(rows) > 1:
        starts[1:] = np.any(rows[1:] != rows[:-1], axis=1)
    first = np.flatnonzero(starts)
    if dim is None:
        values = data.reshape(-1)[first]
    else:
        values = np.take(data, first, axis=d)
    out = [Tensor._wrap(np.ascontiguousarray(values))]
    if return_inverse:
        inverse = np.cumsum(starts) - 1
        out.append(Tensor._wrap(inverse.reshape(data.shape if dim is None else -1).astype(np.int64)))
    if return_counts:
        out.append(Tensor._wrap(np.diff(np.append(first, len(rows))).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def _check_empty_slices(shape: tuple, dim: int) -> None:
    """PyTorch's error for slices along ``dim`` that are empty while ``dim`` is not."""
    if shape[dim] and 0 in shape:
        raise RuntimeError(
            "There are 0 sized dimensions, and they aren't selected, so unique cannot be applied"
        )
