"""``F.grid_sample`` and ``F.affine_grid``: reading an image at positions given as data.

The sample positions come from the grid, a tensor (often computed by the network), so
unlike ``interpolate``'s tables everything here is tensor ops: the unnormalised
position, the padding rule, its floor, the interpolation weights, the in-bounds masks
and the flat indices of the corners, then one ``gather`` per corner.  Autograd thus
gives the gradients to the input (scatter-adds) and to the grid (through the
weights), and the compiler traces the whole sampler.

The rules are those of PyTorch's 2-d CPU kernel (also used here for 3-d data): a
position is unnormalised as ``(g + 1) * (size - 1) / 2`` with ``align_corners``, else
``(g + 1) * size / 2 - 0.5``; 'border' clips it to ``[0, size - 1]`` and 'reflection'
folds it into the reflected span first (a NaN clips to 0); a corner outside the image
reads 0 ('zeros'); a clipped position has no gradient at the borders.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np

from ..._arguments import tensor_arguments
from ...creation import zeros_like
from ...dispatch import cast
from ...dtypes import int64
from ...tensor import Tensor
from ...tensor_ops.indexing import gather
from ...tensor_ops.pointwise import floor, logical_and, where
from ...tensor_ops.pointwise import round as round_half_even
from .resample_tables import cubic_coefficients

__all__ = ["grid_sample", "affine_grid"]

_ALIGN_WARNING = (
    "Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
    "Please specify align_corners=True if the old behavior is desired. See the documentation of "
    "grid_sample for details."
)


@tensor_arguments
def grid_sample(
    input: Tensor,
    grid: Tensor,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = None,
) -> Tensor:
    """Sample ``input`` (N, C, [D,] H, W) at ``grid`` (N, [Do,] Ho, Wo, 2 or 3) positions in [-1, 1].

    ``grid[..., 0]`` is x (along W), ``grid[..., 1]`` y (along H), ``grid[..., 2]`` z.
    Modes 'bilinear' (trilinear for 5-D), 'nearest' (round half to even) and 'bicubic'
    (4-D only); padding 'zeros', 'border' or 'reflection'.
    """
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(
            "nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
            f"but got: '{mode}'"
        )
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            "nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or 'reflection', "
            f"but got: '{padding_mode}'"
        )
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    _check_grid_sample(input, grid, mode)
    # half data is computed in half, each step rounded, as PyTorch's CPU kernel does
    return _Sampler(input, grid, padding_mode, bool(align_corners)).sample(mode)


def _check_grid_sample(input: Tensor, grid: Tensor, mode: str) -> None:
    """PyTorch's checks of ``grid_sampler`` (all RuntimeError, unsupported dtypes NotImplementedError)."""
    shape, gshape = list(input.shape), list(grid.shape)
    rank = input.ndim
    if rank not in (4, 5) or grid.ndim != rank:
        raise RuntimeError(
            f"grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, but got "
            f"input with sizes {shape} and grid with sizes {gshape}"
        )
    if gshape[0] != shape[0]:
        raise RuntimeError(
            "grid_sampler(): expected grid and input to have same batch size, but got input with sizes "
            f"{shape} and grid with sizes {gshape}"
        )
    if gshape[-1] != rank - 2:
        raise RuntimeError(
            f"grid_sampler(): expected grid to have size {rank - 2} in last dimension, but got grid with "
            f"sizes {gshape}"
        )
    for d in range(2, rank):
        if shape[d] == 0:
            raise RuntimeError(
                "grid_sampler(): expected input to have non-empty spatial dimensions, but input has sizes "
                f"{shape} with dimension {d} being empty"
            )
    if mode == "bicubic" and rank != 4:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if input.dtype != grid.dtype:
        raise RuntimeError(
            f"grid_sampler(): expected input and grid to have the same dtype, but got {input.dtype} and "
            f"{grid.dtype}"
        )
    if not input.is_floating_point():
        name = input.dtype.scalar_type
        raise NotImplementedError(
            f"\"grid_sampler_{rank - 2}d_cpu_kernel_impl\" not implemented for '{name}'"
        )


class _Sampler:
    """One ``grid_sample`` call: the input flattened to (N, C, P), the grid's positions per
    spatial dim (outermost first, in input pixels) and the padding rule."""

    def __init__(self, input: Tensor, grid: Tensor, padding_mode: str, align_corners: bool) -> None:
        self.n, self.c = input.shape[:2]
        self.sizes = tuple(input.shape[2:])
        self.out_shape = tuple(grid.shape[1:-1])
        self.flat = input.reshape(self.n, self.c, int(np.prod(self.sizes)))
        self.padding_mode = padding_mode
        self.align_corners = align_corners
        self.grid = grid
        spatial = len(self.sizes)
        # grid's last dim lists x (the last spatial dim) first
        self.positions = [self._unnormalize(grid[..., spatial - 1 - d], d) for d in range(spatial)]

    def sample(self, mode: str) -> Tensor:
        if mode == "bicubic":
            return self._bicubic()
        positions = [self._padded(p, d) for d, p in enumerate(self.positions)]
        if mode == "nearest":
            taps = [[(round_half_even(p), None)] for p in positions]
            out = self._combine(taps)
            # PyTorch's nearest output depends on the grid (with a zero gradient): keep that link
            if self.grid.requires_grad and not out.requires_grad:
                link = self.grid[..., 0].unsqueeze(1)
                out = where(Tensor._wrap(np.zeros((), np.bool_)), link, out)
            return out
        taps = []
        for p in positions:
            first = floor(p)
            fraction = p - first
            taps.append([(first, 1 - fraction), (first + 1, fraction)])
        return self._combine(taps)

    def _bicubic(self) -> Tensor:
        """4x4 taps around the floor of each (unpadded) position; each tap's integer
        position is padded on its own, and the weights carry the gradient to the grid."""
        taps = []
        for d, p in enumerate(self.positions):
            first = floor(p)
            weights = cubic_coefficients(p - first)
            taps.append([(self._padded(first + (k - 1), d), weights[k]) for k in range(4)])
        return self._combine(taps)

    def _unnormalize(self, coordinate: Tensor, d: int) -> Tensor:
        size = self.sizes[d]
        if self.align_corners:
            return (coordinate + 1) * ((size - 1) / 2)
        return (coordinate + 1) * (size / 2) - 0.5

    def _padded(self, position: Tensor, d: int) -> Tensor:
        if self.padding_mode == "zeros":
            return position
        if self.padding_mode == "reflection":
            position = self._reflect(position, d)
        return _clip(position, self.sizes[d] - 1)

    def _reflect(self, position: Tensor, d: int) -> Tensor:
        """Fold ``position`` into ``[low, low + span]`` by reflecting at both ends (as often as
        needed); the gradient's sign flips with each reflection."""
        size = self.sizes[d]
        if self.align_corners:
            if size <= 1:  # an empty span: everything reflects to 0, with no gradient
                return zeros_like(position)
            low, twice_span = 0.0, 2.0 * (size - 1)
        else:
            low, twice_span = -0.5, 2.0 * size
        shifted = position - low
        distance = where(shifted < 0, -shifted, shifted)
        extra = distance - floor(distance / twice_span) * twice_span
        reflected = twice_span - extra
        return where(extra > reflected, reflected, extra) + low

    def _combine(self, taps: list[list[tuple[Tensor, Tensor | None]]]) -> Tensor:
        """``sum over corners of weight * input[corner]``, a corner being one tap per spatial
        dim (outer dims varying slowest); corners outside the image read 0."""
        located = [[(*self._locate(p, d), w) for p, w in dim_taps] for d, dim_taps in enumerate(taps)]
        total = None
        for corner in itertools.product(*located):
            (inside, flat_index, weight), rest = corner[0], corner[1:]
            for d, (ok, index, w) in enumerate(rest, start=1):
                inside = logical_and(inside, ok)
                flat_index = flat_index * self.sizes[d] + index
                weight = w if weight is None else weight * w
            value = where(self._shaped(inside), self._gather(flat_index), 0)
            term = value if weight is None else value * self._shaped(weight)
            total = term if total is None else total + term
        return total

    def _locate(self, position: Tensor, d: int) -> tuple[Tensor, Tensor]:
        """Whether an integer ``position`` along dim ``d`` lies in the image, and its index
        (0 where it does not, so every gather reads in bounds)."""
        ok = logical_and(position > -1, position < self.sizes[d])
        return ok, cast(where(ok, position, 0), int64)

    def _shaped(self, t: Tensor) -> Tensor:
        """A per-position (N, *out) tensor shaped (N, 1, *out) to broadcast over channels."""
        return t.unsqueeze(1)

    def _gather(self, flat_index: Tensor) -> Tensor:
        count = int(np.prod(self.out_shape))
        index = flat_index.reshape(self.n, 1, count).expand(self.n, self.c, count)
        return gather(self.flat, 2, index).reshape((self.n, self.c) + self.out_shape)


def _clip(position: Tensor, high: int) -> Tensor:
    """``position`` clipped to ``[0, high]`` (NaN to 0), with a gradient only strictly inside."""
    return where(position > 0, where(position < high, position, high), 0)


def _linspace_from_minus_one(steps: int, align_corners: bool, dt: np.dtype) -> np.ndarray:
    """PyTorch's base-grid coordinates: ``linspace(-1, 1, steps)`` in ``dt`` as its CPU kernel
    computes it (each half from its own end, ``end - step * k`` rounded once, as a fused
    multiply-add does), scaled by ``(steps - 1) / steps`` without ``align_corners``."""
    if steps <= 1:
        return np.zeros(steps, dt)
    # step * k held exactly (float64 in x86 long double), so one rounding, as a fused multiply-add
    wide = np.longdouble if dt == np.float64 else np.float64
    step = wide(dt.type(2) / dt.type(steps - 1))
    i = np.arange(steps)
    from_start = wide(-1) + step * i
    from_end = wide(1) - step * (steps - 1 - i)
    values = np.where(i < steps // 2, from_start, from_end).astype(dt)
    if not align_corners:
        values = (values * dt.type(steps - 1) / dt.type(steps)).astype(dt)
    return values


@tensor_arguments
def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """The sampling grid (N, [D,] H, W, 2 or 3) of the affine maps ``theta`` (N, 2, 3) or
    (N, 3, 4) over an output of ``size`` (N, C, [D,] H, W): ``grid = base @ theta^T`` with
    the base grid of normalised pixel positions; differentiable in ``theta``."""
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = tuple(int(s) for s in size)
    if len(size) not in (4, 5):
        raise NotImplementedError(
            "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, respectively. "
            f"Got size {size}."
        )
    spatial = len(size) - 2
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (spatial, spatial + 1):
        raise ValueError(
            f"Expected a batch of {spatial}D affine matrices of shape Nx{spatial}x{spatial + 1} for size "
            f"{size}. Got {theta.shape}."
        )
    if align_corners and min(size[2:]) == 1:
        warnings.warn(
            "Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
            "align_corners=True. This is not an intended use case of affine_grid. See the documentation "
            "of affine_grid for details.",
            stacklevel=2,
        )
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    n, extents = size[0], size[2:]
    if theta.shape[0] != n:
        raise RuntimeError(
            f"affine_grid: theta holds {theta.shape[0]} matrices for an output batch of {n} "
            f"(theta of shape {list(theta.shape)}, size {list(size)})"
        )
    dt = theta._data.dtype
    # coordinates x (last dim) first, then a column of ones for the translation
    axes = [_linspace_from_minus_one(extents[spatial - 1 - k], align_corners, dt) for k in range(spatial)]
    mesh = np.meshgrid(*reversed(axes), indexing="ij")  # outermost spatial dim first
    columns = [mesh[spatial - 1 - k] for k in range(spatial)] + [np.ones(extents, dt)]
    base = Tensor._wrap(np.stack(columns, axis=-1).reshape(1, -1, spatial + 1))
    grid = base.expand(n, base.shape[1], spatial + 1).bmm(theta.transpose(1, 2))
    return grid.reshape((n,) + extents + (spatial,))
