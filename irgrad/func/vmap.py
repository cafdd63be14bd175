"""``vmap``: a function mapped over a dimension of its arguments, as ``torch.func.vmap``.

irgrad runs the function once per index of the mapped dimension and stacks the results
along ``out_dims``: the values, dtypes and gradients of PyTorch's vmap for functions
whose results do not depend on the batch around them, without its batched kernels (so
no speed-up; docs/pytorch-differences.md).  ``randomness`` is honoured: ``"error"``
refuses random draws, ``"same"`` gives every index the same draws, ``"different"``
each its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from .. import _rng
from ..tensor import Tensor
from ..tensor_ops.split_join import stack
from ..utils.pytree import flatten, unflatten

__all__ = ["vmap"]


def _is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)


def _name(func: Callable) -> str:
    return getattr(func, "__name__", repr(func))


def vmap(
    func: Callable, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size: int | None = None
) -> Callable:
    """``func`` mapped over dimension ``in_dims`` of its arguments (an int, None for an
    argument that is not mapped, or a structure matching the arguments)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(
            f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}"
        )
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    def wrapper(*args, **kwargs):
        leaves, spec, dims = _mapped_leaves(func, args, in_dims)
        size = _batch_size(func, leaves, dims, in_dims)
        results = []
        with _draws(randomness) as before_each:
            for i in range(size):
                before_each()
                sliced = [x if d is None else x.select(d, i) for x, d in zip(leaves, dims)]
                results.append(func(*unflatten(spec, sliced), **kwargs))
        return _stacked(func, results, out_dims)

    return wrapper


def _mapped_leaves(func: Callable, args: tuple, in_dims) -> tuple[list, Any, list]:
    """(the arguments' leaves, their structure, each leaf's mapped dim or None)."""
    if not isinstance(in_dims, (int, tuple, list, dict)) and in_dims is not None:
        raise ValueError(
            f"vmap({_name(func)}, in_dims={in_dims}, ...): expected `in_dims` to be int or a (potentially "
            f"nested) tuple matching the structure of inputs, got: {type(in_dims)}."
        )
    if isinstance(in_dims, (tuple, list)) and len(in_dims) != len(args):
        raise ValueError(
            f"vmap({_name(func)}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the structure "
            f"of `inputs`. in_dims has structure {in_dims} but inputs has {len(args)} arguments."
        )
    leaves, dims = [], []
    per_arg = in_dims if isinstance(in_dims, (tuple, list)) else [in_dims] * len(args)
    for arg, d in zip(args, per_arg):
        arg_leaves, _ = flatten(arg, lambda x: _is_tensor(x) or not isinstance(x, (tuple, list, dict)))
        arg_dims = (
            flatten(d, lambda x: not isinstance(x, (tuple, list, dict)))[0]
            if isinstance(d, (tuple, list, dict))
            else [d] * len(arg_leaves)
        )
        for x, dim in zip(arg_leaves, arg_dims):
            if dim is not None and not _is_tensor(x):
                raise ValueError(
                    f"vmap({_name(func)}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={dim} for an input but the "
                    f"input is of type {type(x)}. We cannot vmap over non-Tensor arguments, please use None as the "
                    "respective in_dim"
                )
            if dim is not None and not -x.dim() <= dim < max(x.dim(), 1):
                raise ValueError(
                    f"vmap({_name(func)}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={dim} for some input, but "
                    f"that input is a Tensor of dimensionality {x.dim()} so expected in_dim to satisfy "
                    f"-{x.dim()} <= in_dim < {x.dim()}."
                )
            leaves.append(x)
            dims.append(None if dim is None else dim % x.dim())
    _, spec = flatten(args, lambda x: _is_tensor(x) or not isinstance(x, (tuple, list, dict)))
    return leaves, spec, dims


def _batch_size(func: Callable, leaves: list, dims: list, in_dims) -> int:
    sizes = [x.shape[d] for x, d in zip(leaves, dims) if d is not None]
    if not sizes:
        raise ValueError(
            f"vmap({_name(func)}, in_dims={in_dims}, ...)(<inputs>): at least one input must be a Tensor to be "
            "mapped over (got all None in in_dims)"
        )
    if len(set(sizes)) > 1:
        raise ValueError(
            "vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
            f"{sizes} for the mapped dimension"
        )
    return sizes[0]


class _RefusedDraws:
    """What the random stream is while a vmap in ``"error"`` mode runs."""

    def __getattr__(self, name: str):
        raise RuntimeError(
            "vmap: called random operation while in randomness error mode. Please either use the 'same' or "
            "'different' randomness flags on vmap or perform the randomness operation out of vmap"
        )


@contextlib.contextmanager
def _draws(randomness: str):
    """Yield what runs before each index: nothing (``"different"``), the stream reset to
    its state at the start (``"same"``); ``"error"`` swaps the stream for one that refuses."""
    stream = _rng.GLOBAL
    if randomness == "different":
        yield lambda: None
        return
    if randomness == "same":
        start = stream.rng.bit_generator.state
        yield lambda: setattr(stream.rng.bit_generator, "state", start)
        return
    rng, stream.rng = stream.rng, _RefusedDraws()
    try:
        yield lambda: None
    finally:
        stream.rng = rng


def _stacked(func: Callable, results: list, out_dims) -> Any:
    """The per-index results stacked along ``out_dims``, in their structure."""
    flat = [flatten(r, lambda x: _is_tensor(x) or not isinstance(x, (tuple, list, dict))) for r in results]
    leaves0, spec = flat[0]
    per_leaf = (
        flatten(out_dims, lambda x: not isinstance(x, (tuple, list, dict)))[0]
        if isinstance(out_dims, (tuple, list, dict))
        else [out_dims] * len(leaves0)
    )
    if len(per_leaf) != len(leaves0):
        raise ValueError(
            f"vmap({_name(func)}, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible with the "
            "structure of `outputs`."
        )
    out = []
    for k, dim in enumerate(per_leaf):
        column = [leaves[k] for leaves, _ in flat]
        if dim is None:
            out.append(column[0])
            continue
        if not _is_tensor(column[0]):
            raise ValueError(
                f"vmap({_name(func)}, ...): `{_name(func)}` must only return Tensors, got type {type(column[0])}. "
                "Did you mean to set out_dims= to None for output?"
            )
        out.append(stack(column, dim=dim))
    return unflatten(spec, out)
