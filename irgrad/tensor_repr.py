"""PyTorch-style printing: ``tensor([1.0000, 2.5000], requires_grad=True)``."""

from __future__ import annotations

import numpy as np

from .dtypes import get_default_dtype, int64, bool_

PRECISION = 4
THRESHOLD = 1000


def _format_floats(data: np.ndarray) -> dict:
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return {"float_kind": lambda v: _special(v)}
    integral = np.all(finite == np.round(finite))
    big = np.abs(finite).max()
    small = np.abs(finite[finite != 0]).min() if np.any(finite != 0) else 1.0
    sci = big >= 1e8 or (big / small > 1000 and small < 1e-4)
    if sci:
        return {"float_kind": lambda v: _special(v) or f"{v:.{PRECISION}e}"}
    if integral:
        return {"float_kind": lambda v: _special(v) or f"{v:.0f}."}
    return {"float_kind": lambda v: _special(v) or f"{v:.{PRECISION}f}"}


def _special(v) -> str:
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return ""


def tensor_repr(t) -> str:
    data = t._data
    prefix = "tensor("
    if data.dtype.kind == "f":
        formatter = _format_floats(data.astype(np.float64))
    elif data.dtype == np.bool_:
        formatter = {"bool": lambda v: "True" if v else "False"}
    else:
        formatter = {"int": lambda v: str(v)}
    if data.size == 0 and data.ndim == 1:
        body = "[]"
    else:
        body = np.array2string(
            data,
            separator=", ",
            prefix=prefix,
            formatter=formatter,
            threshold=THRESHOLD,
            edgeitems=3,
            max_line_width=80,
        )
    extras = []
    if data.size == 0 and data.ndim != 1:
        extras.append(f"size={tuple(data.shape)}")
    dt = t.dtype
    default = get_default_dtype()
    if dt not in (default, int64, bool_):
        extras.append(f"dtype={dt}")
    if t._node is not None:
        extras.append(f"grad_fn=<{t._node.name()}>")
    elif t._rg:
        extras.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extras) + ")"
