"""PyTorch-style printing: ``tensor([ 0.1000, -2.0000], requires_grad=True)``.

This follows PyTorch's own printing rules (``torch/_tensor_str.py``) so that a
printed irgrad tensor reads exactly like the PyTorch one: one formatter per tensor
picks integer mode (``1.``), fixed (``0.1000``) or scientific (``1.0000e-05``)
notation from the non-zero finite values, every element is right-aligned to the
widest one, rows wrap at 80 columns, and tensors of more than ``THRESHOLD``
elements are summarised with ``...`` keeping ``EDGEITEMS`` items at each end.
"""

from __future__ import annotations

import math

import numpy as np

from .dtypes import bool_, default_complex, get_default_dtype, int64

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80


class _Formatter:
    """Chooses the notation and the common width of all elements of one tensor."""

    def __init__(self, data: np.ndarray) -> None:
        self.floating = data.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = data.reshape(-1)
        if not self.floating:
            for value in flat.tolist():
                self.max_width = max(self.max_width, len(str(value)))
            return
        values = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if values.size == 0:
            return
        magnitudes = np.abs(values)
        low, high = magnitudes.min(), magnitudes.max()
        self.int_mode = bool(np.all(values == np.ceil(values)))
        if self.int_mode:
            self.sci_mode = high / low > 1000.0 or high > 1.0e8
            extra = 0 if self.sci_mode else 1  # the "." appended in integer mode
        else:
            self.sci_mode = high / low > 1000.0 or high > 1.0e8 or low < 1.0e-4
            extra = 0
        for value in values.tolist():
            self.max_width = max(self.max_width, len(self._plain(value)) + extra)

    def _plain(self, value: float) -> str:
        if self.sci_mode:
            return f"{value:.{PRECISION}e}"
        if self.int_mode:
            return f"{value:.0f}"
        return f"{value:.{PRECISION}f}"

    def format(self, value) -> str:
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:{self.max_width}.{PRECISION}e}"
        else:
            text = self._plain(value)
            if self.int_mode and math.isfinite(value):
                text += "."
        return " " * (self.max_width - len(text)) + text


class _ComplexFormatter:
    """PyTorch's pair of formatters for a complex tensor: one for the real parts, one for
    the imaginary parts (each chooses its own notation), printed as ``1.0000+2.0000j``."""

    def __init__(self, data: np.ndarray) -> None:
        self.real = _Formatter(data.real)
        self.imag = _Formatter(data.imag)
        self.max_width = self.real.max_width + self.imag.max_width + 1  # (the "j")

    def format(self, value: complex) -> str:
        real = self.real.format(value.real)
        imag = (self.imag.format(value.imag) + "j").lstrip()
        return real + imag if imag[0] in "+-" else real + "+" + imag


def formatter(data: np.ndarray) -> _Formatter | _ComplexFormatter:
    """The formatter of a tensor's (summarised) elements."""
    return _ComplexFormatter(data) if data.dtype.kind == "c" else _Formatter(data)


def _summarized(data: np.ndarray) -> np.ndarray:
    """The elements that are printed when ``data`` is summarised (for the formatter)."""
    if data.ndim == 0:
        return data
    if data.ndim == 1:
        if data.shape[0] > 2 * EDGEITEMS:
            return np.concatenate((data[:EDGEITEMS], data[-EDGEITEMS:]))
        return data
    rows = range(data.shape[0])
    if data.shape[0] > 2 * EDGEITEMS:
        rows = list(range(EDGEITEMS)) + list(range(data.shape[0] - EDGEITEMS, data.shape[0]))
    return np.stack([_summarized(data[i]) for i in rows])


def _vector(data: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    per_line = max(1, (LINEWIDTH - indent) // (fmt.max_width + 2))
    if summarize and data.shape[0] > 2 * EDGEITEMS:
        items = (
            [fmt.format(v) for v in data[:EDGEITEMS].tolist()]
            + [" ..."]
            + [fmt.format(v) for v in data[-EDGEITEMS:].tolist()]
        )
    else:
        items = [fmt.format(v) for v in data.tolist()]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _body(data: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if data.ndim == 0:
        return fmt.format(data.item())
    if data.ndim == 1:
        return _vector(data, indent, summarize, fmt)
    n = data.shape[0]
    if summarize and n > 2 * EDGEITEMS:
        parts = (
            [_body(data[i], indent + 1, summarize, fmt) for i in range(EDGEITEMS)]
            + ["..."]
            + [_body(data[i], indent + 1, summarize, fmt) for i in range(n - EDGEITEMS, n)]
        )
    else:
        parts = [_body(data[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (data.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _with_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    out = [text]
    last_line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > LINEWIDTH:
            out.append(",\n" + " " * indent + suffix)
            last_line = indent + len(suffix)
        else:
            out.append(", " + suffix)
            last_line += len(suffix) + 2
    return "".join(out) + ")"


def tensor_repr(t) -> str:
    """``repr(t)`` exactly as PyTorch prints a CPU tensor."""
    data = t._data
    prefix = "tensor("
    indent = len(prefix)
    dt = t.dtype
    suffixes = []
    if data.size == 0:
        if data.ndim != 1:
            suffixes.append(f"size={tuple(data.shape)}")
        if dt is not get_default_dtype():
            suffixes.append(f"dtype={dt}")
        body = "[]"
    else:
        if dt not in (get_default_dtype(), default_complex(), int64, bool_):
            suffixes.append(f"dtype={dt}")
        if data.dtype == np.float16:
            data = data.astype(np.float32)
        summarize = data.size > THRESHOLD
        fmt = formatter(_summarized(data) if summarize else data)
        body = _body(data, indent, summarize, fmt)
    if t._node is not None:
        suffixes.append(f"grad_fn=<{t._node.name()}>")
    elif t._rg:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + body, suffixes, indent)
