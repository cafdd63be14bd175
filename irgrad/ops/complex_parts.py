"""Complex primitives: ``conj`` and the two views between a complex tensor and its real
representation, ``view_as_real`` (``[..., 2]`` of real and imaginary parts) and
``view_as_complex`` (back).  Everything else about complex numbers is built from these
(``real``, ``imag``, ``complex``, ``polar``, ``angle``): see
:mod:`irgrad.tensor_ops.complex_parts`.

None of them is holomorphic, so their gradient rules handle complex values themselves
(PyTorch's convention, ``z.grad = dL/dx + i dL/dy``): ``conj``'s gradient is the
conjugate of the incoming one, and each view's gradient is the incoming gradient seen
through the other view.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import COMPLEX, float32, float64, to_complex, to_real
from .elementwise import register_elementwise
from .registry import Kind, Meta, OpDef, register

register_elementwise(
    "conj",
    lambda x: np.conjugate(x) if x.dtype.kind == "c" else x.copy(),
    lambda F, g, c: (F.conj(g),),
    scalar=lambda S, x: x,  # (compiled code holds real values only: the identity)
    complex=True,
    holomorphic=False,
    linear=True,
    doc="The complex conjugate (a copy: irgrad has no lazy conjugate bit); real values as they are.",
)


def _infer_view_as_real(x: Meta) -> Meta:
    if x.dtype.category != COMPLEX:
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return Meta((*x.shape, 2), to_real(x.dtype))


def view_as_real_kernel(x: np.ndarray) -> np.ndarray:
    """``x``'s memory as pairs of real and imaginary parts (a view whatever its strides)."""
    return x[..., None].view(x.real.dtype)


def _infer_view_as_complex(x: Meta) -> Meta:
    if x.dtype not in (float32, float64):
        raise RuntimeError(
            "view_as_complex is only supported for float and double tensors, but got a tensor of "
            f"scalar type: {x.dtype.scalar_type}"
        )
    if not x.shape or x.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    return Meta(tuple(x.shape[:-1]), to_complex(x.dtype))


def view_as_complex_kernel(x: np.ndarray) -> np.ndarray:
    """Pairs along the last dim as complex numbers: a view where the pairs are adjacent in
    memory (what the public function requires), else a copy (a gradient's layout)."""
    if x.strides[-1] != x.itemsize:
        x = np.ascontiguousarray(x)
    return x.view(np.complex64 if x.dtype == np.float32 else np.complex128)[..., 0]


for _name, _kernel, _infer, _other, _doc in (
    (
        "view_as_real",
        view_as_real_kernel,
        _infer_view_as_real,
        "view_as_complex",
        "A complex tensor's memory as real pairs `[..., 2]` (a view).",
    ),
    (
        "view_as_complex",
        view_as_complex_kernel,
        _infer_view_as_complex,
        "view_as_real",
        "Real pairs `[..., 2]` as complex numbers (a view where the pairs are adjacent).",
    ),
):
    register(
        OpDef(
            _name,
            Kind.MOVEMENT,
            _kernel,
            _infer,
            lambda F, g, c, other=_other: (getattr(F, other)(g),),  # the gradient seen through the other view
            complex=True,
            holomorphic=False,
            linear=True,
            doc=_doc,
        )
    )
