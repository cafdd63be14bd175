"""Contraction primitives: batched matmul, linear and einsum.

``matmul`` here takes operands of rank >= 2 with broadcasting batch dims; the
public layer turns 1-D operands into matrices and back, as PyTorch's matmul does.
``linear`` is ``x @ w.T (+ b)`` as one op (PyTorch's ``addmm``/``linear``): a layer
costs one forward op and one backward node instead of four (transpose, matmul,
bias broadcast, add), with the same arithmetic (a matmul, then the bias added).
``einsum`` takes an explicit equation (``"ij,jk->ik"``: ellipses expanded, output
given, no letter repeated within one operand); its gradient is another einsum.  For
float32 and float64 it decomposes (for a backend with no einsum routine) into the
classic einsum-to-bmm: permutes, reshapes, sums and broadcasting multiplies around one
batched ``matmul`` per pair of operands, contracted left to right.  Integer einsums,
which BLAS cannot multiply, decompose into broadcasting multiplies and sums instead.
"""

from __future__ import annotations

import math

import numpy as np

from ..dtypes import INT, float32, float64
from . import stacking
from .movement import sum_to
from .registry import Kind, Meta, OpDef, other_inputs, register
from .shapes import broadcast_shapes, fmt

BLAS_DTYPES = (float32, float64)  # the dtypes an einsum's contraction is a matmul in


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
        grad_reads=((1,), (0,)),
        arity=2,
        linear_in=((0,), (1,)),
        stack=stacking.matmul,
        fresh_layout=True,
        complex=True,
    )
)


def _infer_linear(x: Meta, w: Meta, b: Meta | None = None) -> Meta:
    if len(x.shape) < 2 or len(w.shape) != 2:
        raise RuntimeError(
            f"linear: expected input of rank >= 2 and a 2-D weight, got {fmt(x.shape)} and {fmt(w.shape)}"
        )
    if x.shape[-1] != w.shape[1]:
        rows = x.shape[0] if len(x.shape) == 2 else "x".join(str(s) for s in x.shape[:-1])
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({rows}x{x.shape[-1]} and {w.shape[1]}x{w.shape[0]})"
        )
    if b is not None and tuple(b.shape) != (w.shape[0],):
        raise RuntimeError(f"linear: expected a bias of shape ({w.shape[0]},), got {fmt(b.shape)}")
    if x.dtype is not w.dtype or (b is not None and b.dtype is not x.dtype):
        raise RuntimeError(
            f"linear: expected input, weight and bias of one dtype, got "
            f"{', '.join(str(m.dtype) for m in (x, w, b) if m is not None)}"
        )
    return Meta(tuple(x.shape[:-1]) + (w.shape[0],), x.dtype)


def _linear_kernel(x, w, b=None):
    out = np.matmul(x, w.T)
    if b is not None:
        out += b  # a fresh array: the bias is added in place, as a separate add would round
    return out


def _linear_vjp(F, g, c):
    x, w = c.ins[0], c.ins[1]
    x_shape = c.metas[0].shape
    gx = F.matmul(g, w) if c.needs[0] else None
    gw = gb = None
    if c.needs[1] or (len(c.needs) > 2 and c.needs[2]):
        n_out = c.metas[1].shape[0]
        folded = len(x_shape) > 2  # fold the leading dims into one batch dim
        rows = math.prod(x_shape[:-1])
        g2 = F.reshape(g, shape=(rows, n_out)) if folded else g
        if c.needs[1]:  # (x is kept only then)
            x2 = F.reshape(x, shape=(rows, x_shape[-1])) if folded else x
            gw = F.matmul(F.permute(g2, dims=(1, 0)), x2)
        if len(c.needs) > 2 and c.needs[2]:
            gb = F.sum(g2, dims=(0,), keepdim=False)
    return (gx, gw) if len(c.needs) == 2 else (gx, gw, gb)


register(
    OpDef(
        "linear",
        Kind.MATMUL,
        _linear_kernel,
        _infer_linear,
        _linear_vjp,
        save_inputs=(0, 1),
        grad_reads=((1,), (0,), ()),  # x's gradient reads w, w's reads x, the bias's neither
        arity=-1,
        stack=stacking.linear,
        complex=True,
        doc="`x @ w.T + b` over any leading dims of `x` (w is (out, in)); the bias is optional.",
        fresh_layout=True,
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


def _sum_letters(F, x, subs: str, kept) -> tuple:
    """``x`` (subscripts ``subs``) summed over its letters not in ``kept``, and the letters left."""
    dims = tuple(d for d, letter in enumerate(subs) if letter not in kept)
    if not dims:
        return x, subs
    total = F.sum(x, dims=dims, keepdim=False)
    if total.dtype != x.dtype:
        # an integer sum widens to int64, einsum keeps its operands' dtype: both wrap
        # around modulo 2**bits, so the narrowed sum is the one einsum computes
        total = F.cast(total, dtype=x.dtype)
    return total, "".join(letter for letter in subs if letter in kept)


def _arranged(F, x, subs: str, letters: str, shape: tuple):
    """``x`` (subscripts ``subs``) permuted into the order of ``letters`` and reshaped to
    ``shape`` (merging dims, or adding size-1 dims for letters it lacks)."""
    order = tuple(subs.index(letter) for letter in letters if letter in subs)
    if order != tuple(range(len(subs))):
        x = F.permute(x, dims=order)
    return x if tuple(x.shape) == tuple(shape) else F.reshape(x, shape=shape)


def _contract(F, a, sa: str, b, sb: str, kept: str) -> tuple:
    """``einsum(f"{sa},{sb}->...", a, b)`` keeping the letters in ``kept`` (in an order
    that needs no permute after the product), and those letters.

    Letters in one operand only that are not kept are summed first.  With no letter left
    to contract, or for integers (which BLAS does not multiply), the product is a
    broadcasting ``mul`` over ``kept``'s letters then the contracted ones, whose sum
    contracts them; otherwise it is one ``matmul`` of ``(batch, left, contracted)`` by
    ``(batch, contracted, right)``, each group merged into one dim (the operands swapped
    when ``kept`` puts ``b``'s free letters first, so a transposed output is a transposed
    product, not a permute)."""
    a, sa = _sum_letters(F, a, sa, set(sb) | set(kept))
    b, sb = _sum_letters(F, b, sb, set(sa) | set(kept))
    size = dict(zip(sa, a.shape)) | dict(zip(sb, b.shape))
    contracted = "".join(letter for letter in sa if letter in sb and letter not in kept)
    if not contracted or a.dtype not in BLAS_DTYPES:
        letters = kept + contracted
        a, b = (
            _arranged(F, x, s, letters, tuple(size[c] if c in s else 1 for c in letters))
            for x, s in ((a, sa), (b, sb))
        )
        return _sum_letters(F, F.mul(a, b), letters, kept)
    free = [letter for letter in kept if (letter in sa) != (letter in sb)]
    if free and free[0] in sb:
        a, sa, b, sb = b, sb, a, sa
    batch = "".join(letter for letter in kept if letter in sa and letter in sb)
    left = "".join(letter for letter in kept if letter in sa and letter not in sb)
    right = "".join(letter for letter in kept if letter in sb and letter not in sa)

    def extent(letters: str) -> int:
        return math.prod(size[letter] for letter in letters)

    lead = (extent(batch),) if batch else ()
    product = F.matmul(
        _arranged(F, a, sa, batch + left + contracted, lead + (extent(left), extent(contracted))),
        _arranged(F, b, sb, batch + contracted + right, lead + (extent(contracted), extent(right))),
    )
    letters = batch + left + right
    return _arranged(F, product, letters, letters, tuple(size[letter] for letter in letters)), letters


def _einsum_parts(F, *xs, equation):
    """``einsum`` as the primitives a backend lowers natively (see :func:`_contract`):
    operands contracted pairwise left to right, each intermediate keeping only the
    letters the output or a later operand needs; then the output's letters summed and
    permuted into place.  A bool einsum (numpy's is a logical one) keeps the kernel: None."""
    if xs[0].dtype not in BLAS_DTYPES and xs[0].dtype.category != INT:
        return None
    ins, out = parse_equation(equation)
    x, subs = xs[0], ins[0]
    for k in range(1, len(xs)):
        needed = set(out).union(*ins[k + 1 :])
        kept = "".join(letter for letter in dict.fromkeys(subs + ins[k]) if letter in needed)
        x, subs = _contract(F, x, subs, xs[k], ins[k], out if set(kept) == set(out) else kept)
    x, subs = _sum_letters(F, x, subs, out)
    if x is xs[0] and subs == out:
        return F.copy(x)  # einsum("ij->ij", x): a fresh array, not the input itself
    return _arranged(F, x, subs, out, tuple(x.shape[subs.index(letter)] for letter in out))


register(
    OpDef(
        "einsum",
        Kind.MATMUL,
        lambda *xs, equation: np.einsum(equation, *xs, optimize=len(xs) > 2),
        _infer_einsum,
        _einsum_vjp,
        save_inputs=True,
        grad_reads=other_inputs,
        arity=-1,
        decompose=_einsum_parts,
        complex=True,
    )
)
