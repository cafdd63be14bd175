"""``irgrad.linalg``: PyTorch's ``torch.linalg`` namespace.

Norms are composites of the reductions (:mod:`irgrad.tensor_ops.norms`); inverses,
determinants, solves and Cholesky factors are LAPACK primitives
(:mod:`irgrad.ops.lapack`, public functions in :mod:`irgrad.tensor_ops.lapack`), and so
are the SVD, ``eigh`` and QR (:mod:`irgrad.ops.svd`, :mod:`irgrad.ops.eigh`,
:mod:`irgrad.ops.qr`) that ``pinv``, ``matrix_rank``, ``lstsq``, ``cond`` and the
singular-value norms build on (:mod:`irgrad.tensor_ops.decompositions`). Triangular
solves, the LU factorization, the ``_ex`` variants and ``matrix_exp`` are primitives of
:mod:`irgrad.ops.triangular`, :mod:`irgrad.ops.lu` and :mod:`irgrad.ops.matrix_exp`
(public functions in :mod:`irgrad.tensor_ops.factorizations`); ``vecdot``,
``multi_dot`` and ``vander`` are compositions (:mod:`irgrad.tensor_ops.linalg_functions`).
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
from .tensor_ops.factorizations import (
    cholesky_ex,
    inv_ex,
    lu,
    lu_factor,
    lu_factor_ex,
    lu_solve,
    matrix_exp,
    solve_ex,
    solve_triangular,
)
from .tensor_ops.lapack import cholesky, det, inv, slogdet, solve
from .tensor_ops.linalg_functions import diagonal, matmul, multi_dot, vander, vecdot
from .tensor_ops.norms import matrix_norm, norm, vector_norm
from .tensor_ops.products import linalg_cross as cross
from .tensor_ops.products import matrix_power

__all__ = [
    "LinAlgError",
    "cholesky",
    "cholesky_ex",
    "cond",
    "cross",
    "det",
    "diagonal",
    "eigh",
    "eigvalsh",
    "inv",
    "inv_ex",
    "lstsq",
    "lu",
    "lu_factor",
    "lu_factor_ex",
    "lu_solve",
    "matmul",
    "matrix_exp",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "multi_dot",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "solve_ex",
    "solve_triangular",
    "svd",
    "svdvals",
    "vander",
    "vecdot",
    "vector_norm",
]
