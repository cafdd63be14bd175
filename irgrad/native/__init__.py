"""Hand-written native kernels for eager ops that numpy runs poorly.

numpy runs each op as one pass over memory, and its inner loops are the last
dimension of a view: window ops (im2col, col2im, max pooling) on small feature maps
become thousands of 14-element loops with several passes each.  The kernels here do
such an op in one loop nest, compiled by LLVM (through llvmlite) for the host CPU on
first use.

This package sits below :mod:`irgrad.ops`: it knows arrays, not ops.  Each kernel
has a Python wrapper that checks dtypes and layout and returns ``None`` when it has
no kernel for the case, so the op falls back to its numpy path.  Set
``IRGRAD_NATIVE=0`` to use the numpy paths everywhere.
"""

from __future__ import annotations

from .jit import enabled

__all__ = ["enabled"]
