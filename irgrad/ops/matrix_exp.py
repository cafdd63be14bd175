"""The matrix exponential as a LAPACK primitive (:attr:`Kind.LAPACK`, see
:mod:`irgrad.ops.lapack`).

Higham's scaling and squaring (2005): each matrix is scaled by ``2^-s`` until its 1-norm
is at most ``theta_13``, its degree-13 Padé approximant ``(V - U)^-1 (V + U)`` is taken,
and the result squared ``s`` times; computed in float64 and rounded once (PyTorch's CPU
kernel uses optimized Taylor polynomials: the values agree to rounding).  A matrix
holding a NaN or an infinity gives NaN throughout.

Gradient (real matrices), as PyTorch's ``differential_analytic_matrix_function``: the
top-right block of ``exp([[A^T, g], [0, A^T]])``, itself a ``matrix_exp``, so second
derivatives follow.
"""

from __future__ import annotations

import math

import numpy as np

from .lapack import check_square
from .linalg import swap_last
from .registry import Kind, Meta, OpDef, register

_THETA_13 = 5.371920351148152
_PADE_13 = (
    64764752532480000.0,
    32382376266240000.0,
    7771770303897600.0,
    1187353796428800.0,
    129060195264000.0,
    10559470521600.0,
    670442572800.0,
    33522128640.0,
    1323241920.0,
    40840800.0,
    960960.0,
    16380.0,
    182.0,
    1.0,
)


def _infer(a: Meta) -> Meta:
    check_square("linalg.matrix_exp", a)
    return Meta(tuple(a.shape), a.dtype)


def matrix_exp(a: np.ndarray) -> np.ndarray:
    n = a.shape[-1]
    x = a.astype(np.float64).reshape((int(np.prod(a.shape[:-2])), n, n))
    finite = np.isfinite(x).all(axis=(-2, -1))
    x = np.where(finite[:, None, None], x, 0.0)
    norm = np.abs(x).sum(axis=-2).max(axis=-1, initial=0.0)
    with np.errstate(divide="ignore"):
        s = np.maximum(0, np.ceil(np.log2(norm / _THETA_13))).astype(np.int64)
    x = x / np.exp2(s)[:, None, None]
    b = _PADE_13
    eye = np.eye(n)
    x2 = x @ x
    x4 = x2 @ x2
    x6 = x4 @ x2
    u = x @ (x6 @ (b[13] * x6 + b[11] * x4 + b[9] * x2) + b[7] * x6 + b[5] * x4 + b[3] * x2 + b[1] * eye)
    v = x6 @ (b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 + b[0] * eye
    r = np.linalg.solve(v - u, v + u) if x.size else v
    for step in range(int(s.max(initial=0))):
        more = s > step
        r[more] = r[more] @ r[more]
    r[~finite] = math.nan
    return r.reshape(a.shape).astype(a.dtype, copy=False)


def _matrix_exp_vjp(F, g, c):
    a_t = swap_last(F, c.ins[0])
    nd = len(c.metas[0].shape)
    n = c.metas[0].shape[-1]
    flat = ((0, 0),) * (nd - 2)
    block = F.add(
        F.add(
            F.pad(a_t, widths=flat + ((0, n), (0, n)), value=0.0),
            F.pad(a_t, widths=flat + ((n, 0), (n, 0)), value=0.0),
        ),
        F.pad(g, widths=flat + ((0, n), (n, 0)), value=0.0),
    )
    lead = (slice(None),) * (nd - 2)
    return (F.slice(F.matrix_exp(block), index=lead + (slice(0, n), slice(n, 2 * n))),)


register(
    OpDef(
        "matrix_exp",
        Kind.LAPACK,
        matrix_exp,
        _infer,
        _matrix_exp_vjp,
        save_inputs=True,
        fresh_layout=True,
        doc="exp(A) of each square matrix, by scaling and squaring a degree-13 Padé approximant.",
    )
)
