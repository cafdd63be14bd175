"""``irgrad.linalg``: PyTorch's ``torch.linalg`` namespace.

Norms are composites of the reductions (:mod:`irgrad.tensor_ops.norms`); inverses,
determinants, solves and Cholesky factors are LAPACK primitives
(:mod:`irgrad.ops.lapack`, public functions in :mod:`irgrad.tensor_ops.lapack`).
A factorization that fails raises :class:`LinAlgError`, a ``RuntimeError`` as
``torch.linalg.LinAlgError`` is.
"""

from .ops.lapack import LinAlgError
from .tensor_ops.lapack import cholesky, det, inv, slogdet, solve
from .tensor_ops.norms import matrix_norm, norm, vector_norm
from .tensor_ops.products import linalg_cross as cross
from .tensor_ops.products import matrix_power

__all__ = [
    "LinAlgError",
    "cholesky",
    "cross",
    "det",
    "inv",
    "matrix_norm",
    "matrix_power",
    "norm",
    "slogdet",
    "solve",
    "vector_norm",
]
