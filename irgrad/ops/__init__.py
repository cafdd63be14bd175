"""The op registry and every primitive op, grouped by lowering class.

Importing this package registers all primitives in :data:`OPS`.
"""

from . import (  # noqa: F401  (registers the ops)
    advanced_indexing,
    bessel,
    binary,
    checks,
    complex_parts,
    conv,
    ctc,
    eigh,
    elementwise,
    embedding,
    fft,
    gru_scan,
    igamma,
    inverse_trig,
    lapack,
    linalg,
    lstm_scan,
    lu,
    matrix_exp,
    movement,
    nll_loss,
    qr,
    random,
    recurrent,
    reduction,
    rnn_scan,
    scan,
    scatter,
    selection,
    size_constants,
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
