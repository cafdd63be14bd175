"""Shape arithmetic shared by the shape rules, with PyTorch's error messages.

Every error names the op and the shapes involved, and uses the exception type
PyTorch raises (``RuntimeError`` for size mismatches, ``IndexError`` for a dim
out of range).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def fmt(shape: Sequence[int]) -> str:
    """A shape as PyTorch prints it in messages: ``[2, 3]``."""
    return "[" + ", ".join(str(s) for s in shape) + "]"


def broadcast_shapes(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of ``shapes``; RuntimeError naming ``op`` if they do not broadcast."""
    first = shapes[0]
    if all(s == first for s in shapes[1:]):
        return first
    ndim = max(len(s) for s in shapes)
    result = [1] * ndim
    for shape in shapes:
        offset = ndim - len(shape)
        for i, size in enumerate(shape):
            j = offset + i
            cur = result[j]
            if size == cur or size == 1:
                continue
            if cur == 1:
                result[j] = size
                continue
            listed = ", ".join(fmt(s) for s in shapes[:-1]) + " and " + fmt(shapes[-1])
            raise RuntimeError(
                f"{op}: The size of tensor a ({cur}) must match the size of tensor b ({size}) "
                f"at non-singleton dimension {j}; shapes {listed}"
            )
    return tuple(result)


def normalize_dim(op: str, dim: int, ndim: int) -> int:
    """``dim`` as a non-negative index into a shape of length ``ndim`` (0-d counts as 1)."""
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(
            f"{op}: Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], but got {dim})"
        )
    return dim % rank


def normalize_dims(op: str, dims: int | Iterable[int] | None, ndim: int) -> tuple[int, ...]:
    """Sorted non-negative dims; ``None`` or ``()`` means every dim."""
    if dims is None:
        return tuple(range(ndim))
    if isinstance(dims, int):
        dims = (dims,)
    out = sorted({normalize_dim(op, d, ndim) for d in dims})
    if len(out) != len(tuple(dims)):
        raise RuntimeError(f"{op}: dim {tuple(dims)} appears multiple times in the list of dims")
    if ndim == 0:
        return ()
    return tuple(out) if out else tuple(range(ndim))


def reduced_shape(shape: tuple[int, ...], dims: tuple[int, ...], keepdim: bool) -> tuple[int, ...]:
    """The shape left after reducing ``dims`` of ``shape``."""
    if keepdim:
        return tuple(1 if i in dims else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def numel(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def infer_reshape(op: str, shape: tuple[int, ...], target: Sequence[int]) -> tuple[int, ...]:
    """Resolve one ``-1`` in ``target``; RuntimeError if the element count differs."""
    target = tuple(int(s) for s in target)
    total = numel(shape)
    if target.count(-1) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred, got shape {fmt(target)}")
    if -1 in target:
        known = numel(s for s in target if s != -1)
        if known == 0 or total % known:
            raise RuntimeError(f"{op}: shape '{fmt(target)}' is invalid for input of size {total}")
        target = tuple(total // known if s == -1 else s for s in target)
    if any(s < 0 for s in target) or numel(target) != total:
        raise RuntimeError(f"{op}: shape '{fmt(target)}' is invalid for input of size {total}")
    return target
