"""Matrix products: ``matmul`` (with PyTorch's 1-D and batching rules), mm, bmm, einsum."""

from __future__ import annotations

from .._arguments import tensor_arguments
from ..creation import eye, zeros
from ..dispatch import apply
from ..dtypes import FLOAT, bool_
from ..ops import OPS
from ..ops.linalg import parse_equation
from ..ops.shapes import fmt
from ..tensor import Tensor
from . import pointwise as P
from . import reduce as R
from .shape import reshape, squeeze, unsqueeze


@tensor_arguments
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product: 1-D operands are promoted to matrices and the added dim removed."""
    if input._data.ndim == 0 or other._data.ndim == 0:
        raise RuntimeError(
            f"matmul: both arguments to matmul need to be at least 1D, but they are "
            f"{input._data.ndim}D and {other._data.ndim}D"
        )
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(
            f"matmul: expected m1 and m2 to have the same dtype, but got: {input.dtype} != {other.dtype}"
        )
    a = unsqueeze(input, 0) if input._data.ndim == 1 else input
    b = unsqueeze(other, -1) if other._data.ndim == 1 else other
    if a._data.shape[-1] != b._data.shape[-2]:
        if input._data.ndim == 1 and other._data.ndim == 1:
            raise RuntimeError(
                f"matmul: inconsistent tensor size, expected tensor [{input._data.shape[0]}] and src "
                f"[{other._data.shape[0]}] to have the same number of elements, but got "
                f"{input._data.shape[0]} and {other._data.shape[0]} elements respectively"
            )
    out = apply(OPS["matmul"], (a, b))
    if other._data.ndim == 1:
        out = squeeze(out, -1)
    if input._data.ndim == 1:
        out = squeeze(out, -2 if other._data.ndim > 1 else -1)
    return out


@tensor_arguments
def mm(input: Tensor, mat2: Tensor) -> Tensor:
    if input._data.ndim != 2 or mat2._data.ndim != 2:
        raise RuntimeError(
            f"mm: expected 2D tensors, got {fmt(input._data.shape)} and {fmt(mat2._data.shape)}"
        )
    return matmul(input, mat2)


@tensor_arguments
def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    if input._data.ndim != 3 or mat2._data.ndim != 3:
        raise RuntimeError(
            f"bmm: expected 3D tensors, got {fmt(input._data.shape)} and {fmt(mat2._data.shape)}"
        )
    if input._data.shape[0] != mat2._data.shape[0]:
        raise RuntimeError(
            f"bmm: batch1 and batch2 must have same number of batches, got {input._data.shape[0]} "
            f"and {mat2._data.shape[0]} (shapes {fmt(input._data.shape)} and {fmt(mat2._data.shape)})"
        )
    return matmul(input, mat2)


@tensor_arguments
def mv(input: Tensor, vec: Tensor) -> Tensor:
    return matmul(input, vec)


@tensor_arguments
def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """The inner product of two vectors (PyTorch names the second one ``tensor``)."""
    if input._data.ndim != 1 or tensor._data.ndim != 1:
        raise RuntimeError(
            f"dot: 1D tensors expected, but got {input._data.ndim}D and {tensor._data.ndim}D tensors"
        )
    return matmul(input, tensor)


@tensor_arguments
def inner(input: Tensor, other: Tensor) -> Tensor:
    """The sums of products over the last dims: shape ``input.shape[:-1] + other.shape[:-1]``
    (``dot`` of vectors; a 0-d operand multiplies, as PyTorch's)."""
    a, b = input._data.shape, other._data.shape
    if not a or not b:
        return P.mul(input, other)
    if a[-1] != b[-1]:
        raise RuntimeError(
            "inner() the last dimension must match on both input tensors but got shapes "
            f"{list(a)} and {list(b)}"
        )
    if len(a) == len(b) == 1:
        return matmul(input, other)
    products = matmul(input.reshape(-1, a[-1]), other.reshape(-1, b[-1]).t())
    return products.reshape(a[:-1] + b[:-1])


@tensor_arguments
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    for name, t in (("self", input), ("vec2", vec2)):
        if t.dim() != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t.dim()}-D")
    return P.mul(reshape(input, (-1, 1)), reshape(vec2, (1, -1)))


ger = outer


@tensor_arguments
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)`` (see :func:`add_scaled`)."""
    return add_scaled("addmm", input, mm(mat1, mat2), beta, alpha)


@tensor_arguments
def add_scaled(name: str, input: Tensor, product: Tensor, beta, alpha) -> Tensor:
    """``beta * input + alpha * product``, as PyTorch's ``addmm`` family: with ``beta=0``
    the input's values are ignored, NaN and inf too (0 * NaN would be NaN), its gradient
    0; a float ``beta`` or ``alpha`` for integer operands is refused."""
    if product.dtype.category != FLOAT:
        for label, scale in (("beta", beta), ("alpha", alpha)):
            if isinstance(scale, float):
                raise RuntimeError(
                    f"{name}: For integral input tensors, argument {label} must not be a floating point "
                    f"number (got {label}={scale})."
                )
    if alpha != 1:
        product = P.mul(product, alpha)
    if beta == 0:
        input = P.where(zeros(input.shape, dtype=bool_), input, 0)  # zeros of its shape and dtype
    elif beta != 1:
        input = P.mul(input, beta)
    return P.add(input, product)


def _expand_equation(equation: str, shapes: list) -> str:
    """An explicit einsum equation: ellipses spelled out, the implicit output made explicit."""
    equation = equation.replace(" ", "")
    lhs, _, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise RuntimeError(f"einsum(): {len(terms)} operands in the equation, {len(shapes)} given")
    used = set(c for c in equation if c.isalpha())
    spare = iter(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used)
    ell_ndim = max((len(shape) - (len(t) - 3) for t, shape in zip(terms, shapes) if "..." in t), default=0)
    ell = "".join(next(spare) for _ in range(ell_ndim))
    expanded = []
    for t, shape in zip(terms, shapes):
        if "..." in t:
            n = len(shape) - (len(t) - 3)
            t = t.replace("...", ell[ell_ndim - n :])
        expanded.append(t)
    if "->" in equation:
        out = rhs.replace("...", ell)
    else:
        letters = "".join(expanded)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    return ",".join(expanded) + "->" + out


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation over tensors, as ``torch.einsum``."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    eq = _expand_equation(equation, [t._data.shape for t in operands])
    lhs, out = eq.split("->")
    terms, operands = zip(*[_diagonals(t, x, k) for k, (t, x) in enumerate(zip(lhs.split(","), operands))])
    eq = ",".join(terms) + "->" + out
    return apply(OPS["einsum"], _broadcast_letters(eq, operands), {"equation": eq})


def _diagonals(term: str, operand: Tensor, position: int) -> tuple[str, Tensor]:
    """An operand whose subscripts repeat a letter (``'ii'``, ``'bii'``) as the diagonal
    over those dims (a view, its letter moved last), so each letter names one dim, as the
    einsum op requires; PyTorch's error where the repeated dims' sizes differ."""
    while len(set(term)) != len(term) and len(term) == operand._data.ndim:
        letter = next(c for c in term if term.count(c) > 1)
        i, j = term.index(letter), term.index(letter, term.index(letter) + 1)
        if operand._data.shape[i] != operand._data.shape[j]:
            raise RuntimeError(
                f"einsum(): subscript {letter} is repeated for operand {position} but the sizes don't match, "
                f"{operand._data.shape[j]} != {operand._data.shape[i]}"
            )
        operand = operand.diagonal(0, i, j)
        term = term[:i] + term[i + 1 : j] + term[j + 1 :] + letter
    return term, operand


def _broadcast_letters(equation: str, operands: tuple) -> tuple:
    """The operands with each size-1 dim expanded to its letter's size in the others, as
    PyTorch broadcasts them (``einsum("ij,ij->i", a, b[:1])``): the gradient of an
    expanded operand is then summed back to its shape by ``expand``'s."""
    terms, _ = parse_equation(equation)
    if len(terms) != len(operands):
        return tuple(operands)  # (the op names the mismatch)
    sizes: dict[str, int] = {}
    for letters, t in zip(terms, operands):
        for letter, size in zip(letters, t._data.shape):
            if sizes.get(letter, 1) == 1:  # (a size that differs otherwise: the op names it)
                sizes[letter] = size
    out = []
    for letters, t in zip(terms, operands):
        shape = tuple(sizes[letter] if size == 1 else size for letter, size in zip(letters, t._data.shape))
        out.append(t.expand(shape) if len(letters) == t._data.ndim and shape != t._data.shape else t)
    return tuple(out)


@tensor_arguments
def trace(input: Tensor) -> Tensor:

    if input.dim() != 2:
        raise RuntimeError(
            f"trace: expected a matrix, but got tensor with dim {input.dim()} (shape {list(input.shape)})"
        )
    n = min(input._data.shape)
    return R.sum(P.mul(input[:n, :n], eye(n, dtype=input.dtype)))
