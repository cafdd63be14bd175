"""The op registry and every primitive op, grouped by lowering class.

Importing this package registers all primitives in :data:`OPS`.
"""

from . import (  # noqa: F401  (registers the ops)
    advanced_indexing,
    bessel,
    binary,
    checks,
    conv,
    ctc,
    eigh,
    elementwise,
    embedding,
    igamma,
    inverse_trig,
    lapack,
    linalg,
    lu,
    matrix_exp,
    movement,
    qr,
    random,
    recurrent,
    reduction,
    scan,
    scatter,
    selection,
    special,
    svd,
    triangular,
    unfold,
)
from .registry import OPS, DtypeRule, Kind, Meta, OpDef, Recurrence, Reduction, VjpContext, get, register

__all__ = [
    "OPS",
    "DtypeRule",
    "Kind",
    "Meta",
    "OpDef",
    "Recurrence",
    "Reduction",
    "VjpContext",
    "get",
    "register",
]
