"""``irgrad.linalg``: PyTorch's ``torch.linalg`` namespace.

Norms are composites of the reductions (:mod:`irgrad.tensor_ops.norms`); inverses,
determinants, solves and Cholesky factors are LAPACK primitives
(:mod:`irgrad.ops.lapack`, public functions in :mod:`irgrad.tensor_ops.lapack`), and so
are the SVD, ``eigh`` and QR (:mod:`irgrad.ops.svd`, :mod:`irgrad.ops.eigh`,
:mod:`irgrad.ops.qr`) that ``pinv``, ``matrix_rank``, ``lstsq``, ``cond`` and the
singular-value norms build on (:mod:`irgrad.tensor_ops.decompositions`).
A factorization that fails raises :class:`LinAlgError`, a ``RuntimeError`` as
``torch.linalg.LinAlgError`` is.
"""

from .ops.lapack import LinAlgError
from .tensor_ops.decompositions import (
    cond,
    eigh,
    eigvalsh,
    lstsq,
    matrix_rank,
    pinv,
    qr,
    svd,
    svdvals,
)
from .tensor_ops.lapack import cholesky, det, inv, slogdet, solve
from .tensor_ops.norms import matrix_norm, norm, vector_norm
from .tensor_ops.products import linalg_cross as cross
from .tensor_ops.products import matrix_power

__all__ = [
    "LinAlgError",
    "cholesky",
    "cond",
    "cross",
    "det",
    "eigh",
    "eigvalsh",
    "inv",
    "lstsq",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "vector_norm",
]
