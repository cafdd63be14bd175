"""Variable-length sequences: padding, packing and ``PackedSequence``, as ``torch.nn.utils.rnn``.

A ``PackedSequence`` stores the valid steps of a batch of sequences, sorted by
decreasing length, time-major: first step 0 of every sequence, then step 1 of every
sequence still running, and so on; ``batch_sizes[t]`` says how many sequences run at
step ``t``. Every conversion here is ONE advanced-indexing op (plus a ``cat`` with a
padding row), so it is differentiable and costs no Python loop over sequences or steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from ... import _tracing
from ...creation import full
from ...tensor import Tensor
from ...tensor_ops.shape import transpose
from ...tensor_ops.split_join import cat

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]


class _PackedSequenceFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedSequenceFields):
    """A packed batch of variable-length sequences (made by ``pack_padded_sequence``/``pack_sequence``).

    ``data`` holds the valid steps time-major; ``batch_sizes`` (int64) the number of
    sequences at each step; ``sorted_indices`` the order the batch was sorted into
    (``None`` when the input was already sorted) and ``unsorted_indices`` its inverse.
    """

    def __new__(
        cls,
        data: Tensor,
        batch_sizes: Tensor | None = None,
        sorted_indices: Tensor | None = None,
        unsorted_indices: Tensor | None = None,
    ) -> PackedSequence:
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence((data, batch_sizes), ...)
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """``data`` converted as ``Tensor.to`` would; ``self`` when nothing changes."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self, *args, **kwargs) -> PackedSequence:
        return self

    def double(self) -> PackedSequence:
        return self.to(dtype="float64")

    def float(self) -> PackedSequence:
        return self.to(dtype="float32")

    def half(self) -> PackedSequence:
        return self.to(dtype="float16")

    def long(self) -> PackedSequence:
        return self.to(dtype="int64")

    def int(self) -> PackedSequence:
        return self.to(dtype="int32")

    @property
    def is_cuda(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a 1-D index permutation (``None`` stays ``None``)."""
    if permutation is None:
        return None
    _tracing.materialize(permutation, "invert_permutation")  # its values shape the result
    perm = np.asarray(permutation._data, dtype=np.int64)
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(perm.size, dtype=np.int64)
    return Tensor._wrap(inverse)


def _lengths_array(lengths, batch_size: int) -> np.ndarray:
    if isinstance(lengths, Tensor):
        if lengths._data.ndim != 1:
            raise RuntimeError(
                f"'lengths' argument should be a 1D CPU int64 tensor, but got {lengths._data.ndim}D cpu "
                f"{lengths.dtype} tensor"
            )
        _tracing.materialize(lengths, "the lengths of a packed sequence")
        arr = lengths._data.astype(np.int64)
    else:
        arr = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if arr.size != batch_size:
        raise RuntimeError(
            f"Expected `len(lengths)` to be equal to batch_size, but got {arr.size} (batch_size={batch_size})"
        )
    return arr


def _sorted_order(lengths: np.ndarray) -> np.ndarray:
    """Indices sorting ``lengths`` in decreasing order, ties kept in their original order."""
    return np.argsort(-lengths, kind="stable")


def pack_padded_sequence(
    input: Tensor, lengths, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded batch (``T x B x *``, or ``B x T x *`` with ``batch_first``) of sequences.

    With ``enforce_sorted`` the lengths must already decrease; otherwise the batch is
    sorted here and the permutation kept in ``sorted_indices``.
    """
    batch_dim, time_dim = (0, 1) if batch_first else (1, 0)
    lens = _lengths_array(lengths, input._data.shape[batch_dim])
    if enforce_sorted:
        if np.any(lens[1:] > lens[:-1]):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You "
                "can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                "sidestep this requirement if you do not need ONNX exportability."
            )
        order = None
    else:
        order = _sorted_order(lens)
        lens = lens[order]
    if lens.size == 0 or lens[-1] <= 0:
        raise RuntimeError(
            "Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0"
        )
    if lens[0] > input._data.shape[time_dim]:
        raise RuntimeError(
            f"pack_padded_sequence: the longest length ({int(lens[0])}) exceeds the input's time "
            f"dimension (size {input._data.shape[time_dim]} at dim {time_dim})"
        )
    steps, rows = np.nonzero(np.arange(lens[0])[:, None] < lens[None, :])  # time-major valid (t, b)
    batch_rows = rows if order is None else order[rows]
    index = (
        (Tensor._wrap(batch_rows), Tensor._wrap(steps))
        if batch_first
        else (Tensor._wrap(steps), Tensor._wrap(batch_rows))
    )
    batch_sizes = Tensor._wrap(np.bincount(steps, minlength=int(lens[0])).astype(np.int64))
    sorted_indices = None if order is None else Tensor._wrap(order.astype(np.int64))
    return PackedSequence(input[index], batch_sizes, sorted_indices, None)


def _sequence_lengths(batch_sizes: np.ndarray) -> np.ndarray:
    """Each (sorted) sequence's length: the number of steps whose batch includes it."""
    return (batch_sizes[None, :] > np.arange(int(batch_sizes[0]))[:, None]).sum(axis=1).astype(np.int64)


def _with_padding_row(data: Tensor, padding_value) -> Tensor:
    """``data`` with one extra row of ``padding_value`` at the end (index ``len(data)``)."""
    pad = full((1,) + data._data.shape[1:], padding_value, dtype=data.dtype)
    return cat([data, pad], 0)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Undo ``pack_padded_sequence``: the padded batch (original order) and the int64 lengths."""
    _tracing.materialize(sequence.batch_sizes, "pad_packed_sequence's batch sizes")
    batch_sizes = np.asarray(sequence.batch_sizes._data, dtype=np.int64)
    max_len = batch_sizes.size
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in input, but "
                f"got total_length={total_length} and max sequence length being {max_len}"
            )
        max_len = total_length
    lengths = _sequence_lengths(batch_sizes)
    index = _padded_index(batch_sizes, max_len)
    if sequence.unsorted_indices is not None:
        _tracing.materialize(sequence.unsorted_indices, "pad_packed_sequence's indices")
        unsorted = np.asarray(sequence.unsorted_indices._data, dtype=np.int64)
        index = index[:, unsorted]
        lengths = lengths[unsorted]
    if batch_first:
        index = index.T
    padded = _with_padding_row(sequence.data, padding_value)[Tensor._wrap(np.ascontiguousarray(index))]
    return padded, Tensor._wrap(lengths)


def _padded_index(batch_sizes: np.ndarray, max_len: int) -> np.ndarray:
    """``(max_len, B)`` positions into packed data, ``N`` (the padding row) where a sequence ended."""
    batch = int(batch_sizes[0])
    valid = np.zeros((max_len, batch), dtype=bool)
    valid[: batch_sizes.size] = np.arange(batch)[None, :] < batch_sizes[:, None]
    index = np.full((max_len, batch), int(batch_sizes.sum()), dtype=np.int64)
    index[valid] = np.arange(int(batch_sizes.sum()), dtype=np.int64)  # row-major fill = time-major packing
    return index


def packed_to_padded(data: Tensor, batch_sizes: np.ndarray) -> Tensor:
    """Packed ``data`` as a zero-padded time-major ``T x B x *`` batch (in sorted order)."""
    return _with_padding_row(data, 0.0)[Tensor._wrap(_padded_index(batch_sizes, batch_sizes.size))]


def padded_to_packed(padded: Tensor, batch_sizes: np.ndarray) -> Tensor:
    """The valid steps of a time-major ``T x B x *`` batch, packed as ``batch_sizes`` says."""
    steps, rows = np.nonzero(np.arange(padded._data.shape[1])[None, :] < batch_sizes[:, None])
    return padded[Tensor._wrap(steps), Tensor._wrap(rows)]


def step_mask(batch_sizes: np.ndarray) -> np.ndarray:
    """``(T, B, 1)`` bool: whether sequence ``b`` (sorted order) is still running at step ``t``."""
    return (np.arange(int(batch_sizes[0]))[None, :] < batch_sizes[:, None])[:, :, None]


def pad_sequence(
    sequences, batch_first: bool = False, padding_value: float = 0.0, padding_side: str = "right"
) -> Tensor:
    """Stack sequences of shape ``L_i x *`` into ``T x B x *`` (``B x T x *`` with ``batch_first``)."""
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if not isinstance(sequences, Iterable):
        raise RuntimeError(
            f"pad_sequence: Expected iterable for input sequences, but got arg of type: {type(sequences)}"
        )
    seqs = tuple(sequences)
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    trailing = seqs[0]._data.shape[1:]
    for s in seqs[1:]:
        if s._data.shape[1:] != trailing:
            raise RuntimeError(
                f"pad_sequence: every sequence must have the trailing shape {list(trailing)} of the first, "
                f"got {list(s._data.shape)}"
            )
    lens = np.array([s._data.shape[0] for s in seqs], dtype=np.int64)
    max_len = int(lens.max())
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    pos = np.arange(max_len)[None, :]
    offset = (max_len - lens)[:, None] if padding_side == "left" else np.zeros((lens.size, 1), np.int64)
    step = pos - offset  # the step of each sequence that lands at padded position ``pos``
    valid = (step >= 0) & (step < lens[:, None])
    index = np.where(valid, starts[:, None] + step, int(lens.sum()))  # (B, T)
    if not batch_first:
        index = np.ascontiguousarray(index.T)
    data = cat(list(seqs), 0) if len(seqs) > 1 else seqs[0]
    return _with_padding_row(data, padding_value)[Tensor._wrap(index)]


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor, batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch back into its sequences (the inverse of ``pad_sequence``)."""
    batch = padded_sequences if batch_first else transpose(padded_sequences, 0, 1)
    if isinstance(lengths, Tensor):
        _tracing.materialize(lengths, "unpad_sequence's lengths")
    lens = np.asarray(lengths._data if isinstance(lengths, Tensor) else lengths, dtype=np.int64)
    return [batch[i, : int(n)] for i, n in enumerate(lens)]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of ``L_i x *`` sequences (``pad_sequence`` then ``pack_padded_sequence``)."""
    lengths = Tensor._wrap(np.array([s._data.shape[0] for s in sequences], dtype=np.int64))
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences in a ``PackedSequence``, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
