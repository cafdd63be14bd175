"""``assert_range``: a value check that is part of the graph, so compiled code checks too.

Library code used to check index and target ranges by reading a tensor's values in
Python: right eagerly, but invisible to the tracer, so a compiled graph skipped the
check (and numpy indexing wraps a negative index where PyTorch raises).  This op
returns its input unchanged after raising PyTorch's error for the first value outside
``[low, high)`` (``[low, high]`` with ``closed``; NaN is outside unless ``nan_ok``),
values equal to ``ignore`` excepted.  ``below`` is the message for values under ``low``
when it differs.

A message formats ``{value}``, and names sizes through the op's own attributes, not as
text: ``{low}``, ``{high}``, ``{shape}`` (the checked tensor's) and ``{input_shape}`` (the
tensor it indexes, an attribute that serves messages only).  A message that printed
"with size 12" would differ at every size, and a dynamic graph could not be one graph for
all of them; ``high=B`` is a size like any other attribute.
"""

from __future__ import annotations

import numpy as np

from .registry import Kind, Meta, OpDef, register

# Errors by name, so the attributes print and compare as plain values.
_ERRORS = {"IndexError": IndexError, "RuntimeError": RuntimeError, "ValueError": ValueError}


def _assert_range(
    x, *, low, high, error, message, closed=False, ignore=None, below=None, nan_ok=False, input_shape=None
):
    if x.size == 0:
        return x
    too_high = x > high if closed else x >= high
    bad = (x < low) | too_high
    if x.dtype.kind == "f" and not nan_ok:
        bad |= np.isnan(x)
    if ignore is not None:
        bad &= x != ignore
    if bad.any():
        value = x[bad].flat[0]
        shown = value.item() if x.dtype.kind == "f" else int(value)
        template = below if below is not None and value < low else message
        sizes = {"low": low, "high": high, "shape": list(x.shape), "input_shape": list(input_shape or ())}
        raise _ERRORS[error](template.format(value=shown, **sizes))
    return x


def _infer(x: Meta, **_) -> Meta:
    return Meta(tuple(x.shape), x.dtype)


register(
    OpDef(
        "assert_range",
        Kind.CHECK,
        _assert_range,
        _infer,
        lambda F, g, c: (g,),
        arity=1,
        raises=True,
        doc="The input, after raising `error(message)` for a value outside [low, high) "
        "([low, high] if `closed`; NaN outside; `ignore` exempt).",
    )
)
