"""Functions PyTorch also exposes at ``torch.*`` that irgrad has elsewhere, so code
written against ``torch`` finds them on ``irgrad`` (``import irgrad as torch``).

Only names whose PyTorch signature matches the function given are aliases; the rest
are thin wrappers taking PyTorch's top-level arguments (``torch.dropout(x, p, train)``
names its flag ``train``; ``torch.layer_norm`` takes a ``cudnn_enable`` flag it
ignores on the CPU).  The in-place functions (``torch.sin_(x)``) call the method.
"""

from __future__ import annotations

import warnings

from .. import func, linalg
from .._arguments import tensor_arguments
from ..creation import tensor
from ..dtypes import get_default_dtype
from ..nn import functional as F
from ..tensor import Size, Tensor
from ..tensor_ops.complex_parts import (  # noqa: A004  (torch.complex)
    adjoint,
    angle,
    complex,
    conj_physical,
    imag,
    polar,
    real,
    sgn,
    view_as_complex,
    view_as_real,
)
from ..tensor_ops.count_draws import binomial, poisson
from ..tensor_ops.tensor_facts import (
    is_inference,
    is_same_size,
    is_signed,
    layout,
    narrow_copy,
    ravel,
    sparse_coo,
    split_with_sizes,
    strided,
)
from .functional_aliases import *  # noqa: F401,F403
from .functional_aliases import __all__ as _functional_aliases
from .settings import *  # noqa: F401,F403
from .settings import __all__ as _settings
from .view_copies import *  # noqa: F401,F403
from .view_copies import __all__ as _view_copies

_SAME_SIGNATURE = """conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d max_pool1d
    max_pool2d max_pool3d avg_pool1d adaptive_avg_pool1d pixel_shuffle pixel_unshuffle channel_shuffle
    cosine_similarity pairwise_distance prelu hardshrink bilinear selu celu threshold rrelu rms_norm""".split()

_IN_PLACE = """abs_ acos_ acosh_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ asin_ asinh_ atan_ atanh_
    ceil_ clamp_ clamp_max_ clamp_min_ clip_ cos_ cosh_ deg2rad_ erf_ erfc_ exp2_ exp_ expm1_ fix_ floor_
    frac_ gcd_ lcm_ ldexp_ log10_ log1p_ log2_ log_ logit_ nan_to_num_ neg_ negative_ rad2deg_ reciprocal_
    relu_ round_ rsqrt_ sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_ trunc_ xlogy_ zero_ fill_
    index_put_ addmv_ detach_""".split()

# Methods PyTorch also has at top level, taking the tensor first.
_METHOD_FORMS = "get_device conj resolve_conj resolve_neg is_conj is_neg".split()

__all__ = [
    *_SAME_SIGNATURE,
    *_IN_PLACE,
    *_METHOD_FORMS,
    *_functional_aliases,
    *_settings,
    *_view_copies,
    "binomial",
    "poisson",
    "adjoint",
    "angle",
    "is_inference",
    "is_same_size",
    "is_signed",
    "layout",
    "strided",
    "sparse_coo",
    "real",
    "imag",
    "complex",
    "polar",
    "conj_physical",
    "sgn",
    "view_as_real",
    "view_as_complex",
    "fill",
    "nuclear_norm",
    "frobenius_norm",
    "matrix_rank",
    "arctan2",
    "ravel",
    "detach",
    "broadcast_shapes",
    "scalar_tensor",
    "narrow_copy",
    "split_with_sizes",
    "vmap",
    "dropout",
    "alpha_dropout",
    "feature_alpha_dropout",
    "layer_norm",
    "group_norm",
]

globals().update({name: getattr(F, name) for name in _SAME_SIGNATURE})


def _method_form(name: str, what: str):
    def function(input: Tensor, *args, **kwargs) -> Tensor:
        return getattr(input, name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``input.{name}(...)``: PyTorch's top-level form of the {what}."
    return tensor_arguments(function)


globals().update({name: _method_form(name, "in-place method") for name in _IN_PLACE})
globals().update({name: _method_form(name, "method") for name in _METHOD_FORMS})
vmap = func.vmap


@tensor_arguments
def arctan2(input: Tensor, other: Tensor) -> Tensor:
    return input.atan2(other)


@tensor_arguments
def detach(input: Tensor) -> Tensor:
    return input.detach()


def broadcast_shapes(*shapes) -> Size:
    """The shape the given shapes (sequences or single sizes) broadcast to, and PyTorch's
    error naming the first argument that does not fit the shape so far."""
    result: list[int] = []
    for index, shape in enumerate(shapes):
        dims = (shape,) if isinstance(shape, int) else tuple(shape)
        if any(d < 0 for d in dims):
            raise RuntimeError(f"Trying to create tensor with negative dimension: {list(dims)}")
        result = [1] * (len(dims) - len(result)) + result
        for position in range(1, len(dims) + 1):
            have, size = result[-position], dims[-position]
            if have == 1:
                result[-position] = size
            elif size not in (1, have):
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {size} at {-position}! Mismatching "
                    f"argument at index {index} had {dims}; but expected shape should be broadcastable to {result}"
                )
    return Size(result)


def scalar_tensor(
    s, *, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False
) -> Tensor:
    """A 0-d tensor of ``s`` in ``dtype`` (the default float dtype unless given)."""
    return tensor(s, dtype=dtype or get_default_dtype(), requires_grad=requires_grad, pin_memory=pin_memory)


@tensor_arguments
def dropout(input: Tensor, p: float, train: bool) -> Tensor:
    return F.dropout(input, p, train)


@tensor_arguments
def alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    return F.alpha_dropout(input, p, train)


@tensor_arguments
def feature_alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    return F.feature_alpha_dropout(input, p, train)


@tensor_arguments
def layer_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
    cudnn_enable: bool = True,
) -> Tensor:
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


@tensor_arguments
def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
    cudnn_enabled: bool = True,
) -> Tensor:
    return F.group_norm(input, num_groups, weight, bias, eps)


@tensor_arguments
def fill(input: Tensor, value) -> Tensor:
    """A copy of ``input`` filled with ``value`` (a number or 0-d tensor, which gets the
    gradient; ``input`` gets zero)."""
    return input.clone().fill_(value)


@tensor_arguments
def nuclear_norm(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The deprecated ``linalg.matrix_norm(input, 'nuc', dim, keepdim)``; ``dim`` is optional
    (the last two dims of a matrix), and ``nuclear_norm(input, True)`` is the keepdim form."""
    warnings.warn(
        "at::nuclear_norm is deprecated and it is just left for JIT compatibility. It will be removed in a "
        "future PyTorch release. Please use `linalg.matrix_norm(A, 'nuc', dim, keepdim)` instead",
        UserWarning,
        2,
    )
    if isinstance(dim, bool):
        dim, keepdim = None, dim
    if dim is None:
        if input.dim() != 2:
            raise RuntimeError(
                f"Expected a tensor with 2 dimensions, but got a tensor with {input.dim()} dimensions instead."
            )
        dim = (0, 1)
    return linalg.matrix_norm(input, "nuc", dim, keepdim)


@tensor_arguments
def frobenius_norm(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """The deprecated ``linalg.vector_norm(input, 2, dim, keepdim)``."""
    warnings.warn(
        "at::frobenius_norm is deprecated and it is just left for JIT compatibility. It will be removed in a "
        "future PyTorch release. Please use `linalg.vector_norm(A, 2., dim, keepdim)` instead",
        UserWarning,
        2,
    )
    return linalg.vector_norm(input, 2.0, dim, keepdim)


@tensor_arguments
def matrix_rank(input: Tensor, tol=None, symmetric: bool = False, *, out=None):
    """Removed in PyTorch 1.9: raises PyTorch's error naming its replacement."""
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed.\n"
        "Please use the `torch.linalg.matrix_rank` function instead. The parameter 'symmetric' was "
        "renamed in `torch.linalg.matrix_rank()` to 'hermitian'."
    )
