"""irgrad: PyTorch-style tensors and autograd on numpy, with a compiler to native code.

``import irgrad as torch`` runs ordinary PyTorch CPU code; see the README.
"""

import os as _os
import warnings as _warnings

# numpy reports overflow/invalid/divide-by-zero as RuntimeWarnings; PyTorch gives
# inf/nan silently. Silence them only where irgrad's own kernels raise them.
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"irgrad(\.|$)")

from . import _allocator  # noqa: E402, F401 - tunes glibc malloc once, at import (see its docstring)
from . import accelerator, autograd, backends, cuda, distributed, dtypes, random  # noqa: E402
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled  # noqa: E402
from .recording.grad_mode import is_inference_mode_enabled  # noqa: E402
from .creation import (  # noqa: E402
    arange,
    as_tensor,
    asarray,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_dlpack,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    tril_indices,
    triu_indices,
    zeros,
    zeros_like,
)
from .dtypes import (  # noqa: E402
    bfloat16,
    complex32,
    complex64,
    complex128,
    dtype,
    finfo,
    float16,
    float32,
    float64,
    get_default_dtype,
    iinfo,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    result_type,
    set_default_dtype,
    uint8,
)
from .dtypes import bool_ as bool  # noqa: E402,A001
from .memory_formats import (  # noqa: E402
    channels_last,
    channels_last_3d,
    contiguous_format,
    memory_format,
    preserve_format,
)
from .random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)  # noqa: E402
from ._arguments import tensor_arguments as _tensor_arguments  # noqa: E402
from .tensor import Size, Tensor, device  # noqa: E402
from .tensor_methods import install as _install_methods  # noqa: E402
from .tensor_ops.float_parts import frexp, nextafter  # noqa: E402
from .tensor_ops.histogram import histc, histogram  # noqa: E402
from .tensor_ops.unique_consecutive import unique_consecutive  # noqa: E402
from .tensor_ops.index_along import index_add, index_copy, index_fill  # noqa: E402
from .tensor_ops.index_reduce import index_reduce  # noqa: E402
from .tensor_ops.view_scatter import diagonal_scatter, select_scatter, slice_scatter  # noqa: E402
from .tensor_ops.indexing import (  # noqa: E402
    argwhere,
    bincount,
    gather,
    index_put,
    index_select,
    masked_select,
    nonzero,
    repeat_interleave,
    take,
    take_along_dim,
    unique,
)
from .tensor_ops.linalg import addmm, bmm, dot, einsum, ger, inner, matmul, mm, mv, outer  # noqa: E402
from .tensor_ops.norms import tensor_norm as norm  # noqa: E402
from .tensor_ops.lapack import det, inverse, logdet, slogdet  # noqa: E402
from .tensor_ops.decompositions import legacy_qr as qr, legacy_svd as svd, pinverse  # noqa: E402
from .tensor_ops.factorizations import (  # noqa: E402
    cholesky_inverse,
    cholesky_solve,
    lu_unpack,
    matrix_exp,
    triangular_solve,
)
from .tensor_ops.factorizations import legacy_lu as lu  # noqa: E402
from .tensor_ops.pointwise import *  # noqa: E402,F401,F403
from .tensor_ops.pointwise import abs, pow, round  # noqa: E402,A004
from .tensor_ops.reduce import (  # noqa: E402
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    argsort,
    count_nonzero,
    cumsum,
    dist,
    kthvalue,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    prod,
    softmax,
    sort,
    std,
    std_mean,
    sum,
    topk,
    var,
    var_mean,
)
from .tensor_ops.scan import cummax, cummin, cumprod  # noqa: E402
from .tensor_ops.arrange import (  # noqa: E402
    atleast_1d,
    atleast_2d,
    atleast_3d,
    block_diag,
    cartesian_prod,
    column_stack,
    combinations,
    dsplit,
    diagflat,
    dstack,
    fliplr,
    flipud,
    hsplit,
    meshgrid,
    moveaxis,
    rot90,
    row_stack,
    unravel_index,
    vander,
    vsplit,
)
from .tensor_ops.legacy import (  # noqa: E402
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
from .tensor_ops.order_statistics import median, mode, msort, nanmedian, nanquantile, quantile  # noqa: E402
from .tensor_ops.distances import cdist, pdist  # noqa: E402
from .tensor_ops.composite_reductions import (  # noqa: E402
    aminmax,
    corrcoef,
    cov,
    cumulative_trapezoid,
    logcumsumexp,
    nanmean,
    nansum,
    renorm,
    trapezoid,
    trapz,
)
from .tensor_ops.predicates import can_cast, is_complex, is_nonzero, isneginf, isposinf, isreal  # noqa: E402
from .tensor_ops.searching import bucketize, searchsorted  # noqa: E402
from .tensor_ops.special import digamma, erfinv, lgamma, mvlgamma, polygamma  # noqa: E402
from .tensor_ops.bessel import i0  # noqa: E402
from .tensor_ops.incomplete_gamma import igamma, igammac  # noqa: E402
from .tensor_ops.windows import (  # noqa: E402
    bartlett_window,
    blackman_window,
    hamming_window,
    hann_window,
    kaiser_window,
)
from .tensor_ops.products import (  # noqa: E402
    addbmm,
    addmv,
    addr,
    baddbmm,
    chain_matmul,
    cross,
    kron,
    matrix_power,
    tensordot,
    vdot,
)
from .tensor_ops.pointwise_composites import (  # noqa: E402
    copysign,
    deg2rad,
    erfc,
    float_power,
    fmax,
    fmin,
    frac,
    gcd,
    heaviside,
    hypot,
    isin,
    lcm,
    ldexp,
    logaddexp,
    logaddexp2,
    logit,
    positive,
    rad2deg,
    sgn,
    signbit,
    sinc,
    xlogy,
)
from .tensor_ops.scatter import masked_scatter, scatter, scatter_add, scatter_reduce  # noqa: E402
from .tensor_ops.select import where  # noqa: E402
from .tensor_ops.shape import (  # noqa: E402
    broadcast_tensors,
    broadcast_to,
    clone,
    flatten,
    movedim,
    permute,
    repeat,
    reshape,
    squeeze,
    swapaxes,
    swapdims,
    t,
    tile,
    transpose,
    unflatten,
    unsqueeze,
)
from .tensor_ops.split_join import (  # noqa: E402
    cat,
    chunk,
    concat,
    concatenate,
    hstack,
    narrow,
    select,
    split,
    stack,
    tensor_split,
    unbind,
    vstack,
)
from .tensor_ops.shifts import diff, flip, roll  # noqa: E402
from .tensor_ops.diagonals import diag, diag_embed, diagonal, tril, triu  # noqa: E402

_install_methods()

from . import sparse  # noqa: E402  (sparse COO tensors: attaches to_sparse ... and its kernels)
from .sparse import sparse_coo_tensor, spmm  # noqa: E402

sparse.install()

from . import nn  # noqa: E402  (needs the Tensor methods installed above)
from . import amp  # noqa: E402
from .amp import autocast, cuda_amp  # noqa: E402

cuda.amp = cuda_amp  # torch.cuda.amp (irgrad.cuda sits below the tensor layers amp needs)
from .compile import compile, mark_dynamic  # noqa: E402,A004
from .compiler.capture import trace  # noqa: E402
from . import compiler  # noqa: E402  (irgrad.compiler: reset, disable, is_compiling)
from . import jit  # noqa: E402  (torch.jit: its decorators as in eager PyTorch, script/trace as compile)
from . import tensor_repr  # noqa: E402
from .debug import debug_nans  # noqa: E402

float = float32  # noqa: A001
double = float64
half = float16
cfloat = complex64
cdouble = complex128
chalf = complex32
long = int64
int = int32  # noqa: A001
short = int16
cpu = device("cpu")


def is_tensor(obj) -> bool:  # noqa: A001
    return isinstance(obj, Tensor)


@_tensor_arguments
def is_floating_point(input: Tensor) -> bool:
    return input.is_floating_point()


@_tensor_arguments
def numel(input: Tensor) -> int:
    return input.numel()


def set_printoptions(precision=None, threshold=None, **kwargs) -> None:
    if precision is not None:
        tensor_repr.PRECISION = precision
    if threshold is not None:
        tensor_repr.THRESHOLD = threshold


def get_num_threads() -> int:
    """Threads compiled native code splits large loops across: ``OMP_NUM_THREADS`` when
    set, else the cores this process may run on, until :func:`set_num_threads`."""
    from .native import pool

    return pool.threads()


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in compiled native code (its sleeping worker pool; eager ops
    run with numpy, whose BLAS decides its own threads)."""
    from .native import pool

    pool.set_threads(n)


from . import utils  # noqa: E402
from .serialization import load, save  # noqa: E402

from .version import __version__  # noqa: E402

from . import optim  # noqa: E402
from . import linalg  # noqa: E402
from . import special  # noqa: E402
from . import fft  # noqa: E402
from . import distributions  # noqa: E402
from . import func  # noqa: E402
from . import futures, profiler  # noqa: E402
from . import testing  # noqa: E402  (torch.testing: assert_close for users' tests)
from .torch_namespace import *  # noqa: E402,F401,F403  (torch.conv2d, torch.sin_, torch.vmap ...)
from .torch_namespace.settings import range  # noqa: E402,A004  (torch.range, deprecated)
from .torch_namespace.settings import _assert  # noqa: E402  (torch._assert)

from math import e, inf, nan, pi  # noqa: E402  (torch.pi ...: the Python floats, as PyTorch's)


def __getattr__(name: str):
    """``irgrad.fx`` (torch.fx: symbolic tracing, graphs, GraphModule) is imported on first
    use: its 27 ms of ``import irgrad`` serve the few scripts that trace with it."""
    if name == "fx":
        import importlib

        return importlib.import_module(f"{__name__}.fx")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
