"""Contraction primitives: batched matmul and einsum.

``matmul`` here takes operands of rank >= 2 with broadcasting batch dims; the
public layer turns 1-D operands into matrices and back, as PyTorch's matmul does.
``einsum`` takes an explicit equation (``"ij,jk->ik"``: ellipses expanded, output
given, no letter repeated within one operand); its gradient is another einsum.
"""

from __future__ import annotations

import numpy as np

from .movement import sum_to
from .registry import Kind, Meta, OpDef, register
from .shapes import broadcast_shapes, fmt


def swap_last(F, x):
    """``x`` with its last two dims swapped."""
    n = len(x.shape)
    return F.permute(x, dims=tuple(range(n - 2)) + (n - 1, n - 2))


def _infer_matmul(a: Meta, b: Meta) -> Meta:
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise RuntimeError(f"matmul: expected operands of rank >= 2, got {fmt(a.shape)} and {fmt(b.shape)}")
    if a.shape[-1] != b.shape[-2]:
        ra = "x".join(str(s) for s in a.shape[-2:])
        rb = "x".join(str(s) for s in b.shape[-2:])
        raise RuntimeError(
            f"matmul: mat1 and mat2 shapes cannot be multiplied ({ra} and {rb}); "
            f"operand shapes {fmt(a.shape)} and {fmt(b.shape)}"
        )
    if a.dtype is not b.dtype:
        raise RuntimeError(
            f"matmul: expected m1 and m2 to have the same dtype, but got: {a.dtype} != {b.dtype}"
        )
    batch = broadcast_shapes("matmul", a.shape[:-2], b.shape[:-2])
    return Meta(batch + (a.shape[-2], b.shape[-1]), a.dtype)


def _matmul_vjp(F, g, c):
    a, b = c.ins
    ga = sum_to(F, F.matmul(g, swap_last(F, b)), c.metas[0].shape) if c.needs[0] else None
    gb = sum_to(F, F.matmul(swap_last(F, a), g), c.metas[1].shape) if c.needs[1] else None
    return ga, gb


register(
    OpDef(
        "matmul",
        Kind.MATMUL,
        np.matmul,
        _infer_matmul,
        _matmul_vjp,
        save_inputs=True,
        arity=2,
    )
)


def parse_equation(equation: str) -> tuple[list[str], str]:
    """Split an explicit einsum equation into operand subscripts and output subscripts."""
    lhs, out = equation.split("->")
    return lhs.split(","), out


def _infer_einsum(*xs: Meta, equation) -> Meta:
    ins, out = parse_equation(equation)
    if len(ins) != len(xs):
        raise RuntimeError(f"einsum(): {equation!r} names {len(ins)} operands, got {len(xs)}")
    sizes: dict[str, int] = {}
    for subs, x in zip(ins, xs):
        if len(subs) != len(x.shape):
            raise RuntimeError(
                f"einsum(): the number of subscripts in {subs!r} does not match the number of "
                f"dimensions ({len(x.shape)}) of operand shape {fmt(x.shape)}"
            )
        for letter, size in zip(subs, x.shape):
            known = sizes.setdefault(letter, size)
            if known != size:
                raise RuntimeError(
                    f"einsum(): subscript {letter!r} has size {size} for operand shape "
                    f"{fmt(x.shape)} which does not match the previously seen size {known} "
                    f"in {equation!r}"
                )
    dtypes = {x.dtype for x in xs}
    if len(dtypes) != 1:
        raise RuntimeError(f"einsum(): expected operands of one dtype, got {sorted(map(str, dtypes))}")
    return Meta(tuple(sizes[letter] for letter in out), xs[0].dtype)


def _einsum_vjp(F, g, c):
    ins, out = parse_equation(c.attrs["equation"])
    grads = []
    for i, (subs, meta, need) in enumerate(zip(ins, c.metas, c.needs)):
        if not need:
            grads.append(None)
            continue
        others = [(s, x) for j, (s, x) in enumerate(zip(ins, c.ins)) if j != i]
        available = set(out).union(*(s for s, _ in others))
        # Letters only this operand has were summed away: contract without them,
        # then broadcast the result back along them.
        kept = "".join(letter for letter in subs if letter in available)
        eq = ",".join([out] + [s for s, _ in others]) + "->" + kept
        partial = F.einsum(g, *(x for _, x in others), equation=eq)
        if kept != subs:
            shape = tuple(size if letter in available else 1 for letter, size in zip(subs, meta.shape))
            partial = F.broadcast_to(F.reshape(partial, shape=shape), shape=meta.shape)
        grads.append(partial)
    return tuple(grads)


register(
    OpDef(
        "einsum",
        Kind.MATMUL,
        lambda *xs, equation: np.einsum(equation, *xs, optimize=len(xs) > 2),
        _infer_einsum,
        _einsum_vjp,
        save_inputs=True,
        arity=-1,
    )
)
