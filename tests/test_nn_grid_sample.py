"""``F.grid_sample`` and ``F.affine_grid``: values and gradients (to the input, the grid and
theta) against PyTorch over random shapes, modes and paddings, special grid values, the
errors, finite differences, and a compiled spatial transformer trained as eager."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from optim_cases import cross_entropy_step
from test_compile_state import Scenario, check

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F

MODES = ("bilinear", "nearest", "bicubic")
PADDINGS = ("zeros", "border", "reflection")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_matches_torch(compare, mode, padding_mode, align_corners):
    """Random images and grids reaching past the borders (so every padding rule acts),
    4-D and (except bicubic) 5-D, float32 and float64: values and both gradients."""
    rng = np.random.default_rng([MODES.index(mode), PADDINGS.index(padding_mode), align_corners])
    for k in range(4):
        spatial = 2 if mode == "bicubic" or k % 2 == 0 else 3
        dtype = np.float64 if k == 3 else np.float32
        n, c = int(rng.integers(1, 3)), int(rng.integers(1, 4))
        image = rng.standard_normal((n, c) + tuple(int(rng.integers(1, 6)) for _ in range(spatial)))
        grid = rng.uniform(
            -1.7, 1.7, (n,) + tuple(int(rng.integers(1, 5)) for _ in range(spatial)) + (spatial,)
        )
        compare(
            lambda lib, x, g: lib.nn.functional.grid_sample(
                x, g, mode=mode, padding_mode=padding_mode, align_corners=align_corners
            ),
            image.astype(dtype),
            grid.astype(dtype),
            atol=5e-5,
        )


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding_mode", PADDINGS)
def test_special_grid_values_match_torch(compare, mode, padding_mode):
    """NaN, infinite, huge and exactly-on-the-border positions read what PyTorch's 2-d kernel
    reads (a NaN clips to 0 under border and reflection; 'zeros' multiplies NaN weights)."""
    image = np.arange(1.0, 17.0, dtype=np.float32).reshape(1, 1, 4, 4)
    grid = np.array(
        [[[np.nan, 0.5], [np.inf, 0.2], [-np.inf, 0.3], [0.3, np.nan], [1e10, 0.1], [-1e10, 0.1]]]
        + [[[0.1, 3e9], [1.0, 1.0], [-1.0, -1.0], [0.9999, -1.00001], [1.0, -0.2], [-0.6, 1.0]]],
        dtype=np.float32,
    )[None]
    for align_corners in (False, True):
        compare(
            lambda lib, x, g, a=align_corners: lib.nn.functional.grid_sample(
                x, g, mode=mode, padding_mode=padding_mode, align_corners=a
            ),
            image,
            grid,
            grad=False,
        )


@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("align_corners", [False, True])
def test_border_positions_have_torchs_gradient(compare, padding_mode, align_corners):
    """Positions on pixel centres and on the image's borders, where the gradient is one-sided
    (PyTorch takes the floor's side, and counts a clipped border as outside: gradient 0)."""
    # a 4x4 image and dyadic grid values: every position is exact (PyTorch's kernel rounds
    # ``(g + 1) * size / 2 - 0.5`` as one fused multiply-add, so an inexact one may land on
    # either side of a border)
    image = np.random.default_rng(5).standard_normal((1, 2, 4, 4)).astype(np.float64)
    axis = np.array([-1.25, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.75, 1.0, 1.25])
    grid = np.stack(np.meshgrid(axis, axis[::-1], indexing="xy"), axis=-1)[None]
    compare(
        lambda lib, x, g: lib.nn.functional.grid_sample(
            x, g, padding_mode=padding_mode, align_corners=align_corners
        ),
        image,
        grid,
    )


@pytest.mark.parametrize(
    "mode, padding_mode, shape, out",
    [
        ("bilinear", "zeros", (1, 2, 3, 4), (2, 3)),
        ("bilinear", "reflection", (2, 1, 4, 3), (3, 2)),
        ("bilinear", "border", (1, 1, 2, 3, 3), (2, 2, 1)),
        ("bicubic", "zeros", (1, 1, 4, 4), (2, 3)),
        ("bicubic", "reflection", (1, 2, 3, 3), (2, 2)),
        ("nearest", "border", (1, 2, 3, 4), (3, 3)),
    ],
)
def test_gradients_equal_finite_differences(mode, padding_mode, shape, out):
    rng = np.random.default_rng(7)
    spatial = len(shape) - 2
    image = irgrad.tensor(rng.standard_normal(shape), requires_grad=True)
    # away from pixel centres and borders, where the sampler is not differentiable
    grid = rng.uniform(-1.4, 1.4, (shape[0],) + out + (spatial,))
    grid = irgrad.tensor(grid, requires_grad=mode != "nearest")

    def sample(x, g):
        return F.grid_sample(x, g, mode=mode, padding_mode=padding_mode, align_corners=False)

    assert irgrad.autograd.gradcheck(sample, (image, grid), eps=1e-7)


def test_nearest_grid_gets_a_zero_gradient_as_in_torch():
    image = irgrad.randn(1, 1, 3, 3)
    grid = irgrad.zeros(1, 2, 2, 2, requires_grad=True)
    out = F.grid_sample(image, grid, mode="nearest", align_corners=False)
    assert out.requires_grad
    out.sum().backward()
    np.testing.assert_array_equal(grid.grad.numpy(), np.zeros((1, 2, 2, 2)))


def test_known_values_of_bilinear_sampling():
    image = irgrad.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    grid = irgrad.tensor([[[[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0], [1.0, -1.0], [2.0, 0.0]]]])
    corners = F.grid_sample(image, grid, align_corners=True)
    np.testing.assert_allclose(corners.numpy().ravel(), [1.0, 2.5, 4.0, 2.0, 1.5])  # x=1.5: half outside
    bordered = F.grid_sample(image, grid, padding_mode="border", align_corners=True)
    np.testing.assert_allclose(bordered.numpy().ravel(), [1.0, 2.5, 4.0, 2.0, 3.0])
    halves = F.grid_sample(image, grid, align_corners=False)  # -1 is a pixel's outer edge
    np.testing.assert_allclose(halves.numpy().ravel(), [0.25, 2.5, 1.0, 0.5, 0.0])


@pytest.mark.parametrize("mode", MODES)
def test_empty_batch_channels_and_grids_match_torch(compare, mode):
    for image_shape, grid_shape in (
        ((0, 2, 3, 3), (0, 2, 2, 2)),
        ((1, 0, 3, 3), (1, 2, 2, 2)),
        ((1, 2, 3, 3), (1, 0, 2, 2)),
    ):
        compare(
            lambda lib, x, g: lib.nn.functional.grid_sample(x, g, mode=mode, align_corners=False),
            np.zeros(image_shape, np.float32),
            np.zeros(grid_shape, np.float32),
        )


def test_half_precision_matches_torch(compare):
    rng = np.random.default_rng(3)
    image = rng.standard_normal((1, 2, 4, 5)).astype(np.float16)
    grid = rng.uniform(-1.2, 1.2, (1, 3, 3, 2)).astype(np.float16)
    compare(
        lambda lib, x, g: lib.nn.functional.grid_sample(x, g, align_corners=False),
        image,
        grid,
        grad=False,
        atol=2e-3,
    )


def test_align_corners_default_warns_as_torch():
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(irgrad.zeros(1, 1, 2, 2), irgrad.zeros(1, 1, 1, 2))
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.affine_grid(irgrad.zeros(1, 2, 3), (1, 1, 2, 2))


SAMPLE_ERRORS = [
    ((1, 1, 4, 4), (2, 3, 3, 2), {}, RuntimeError, "same batch size"),
    ((1, 1, 4, 4), (1, 3, 3, 3), {}, RuntimeError, "size 2 in last dimension"),
    ((1, 1, 4, 4), (1, 3, 3, 3, 2), {}, RuntimeError, "same number of dimensions"),
    ((1, 1, 4), (1, 3, 1), {}, RuntimeError, "grid_sampler"),
    ((1, 1, 0, 4), (1, 3, 3, 2), {}, RuntimeError, "non-empty spatial dimensions"),
    (
        (1, 1, 4, 4, 4),
        (1, 2, 2, 2, 3),
        {"mode": "bicubic"},
        RuntimeError,
        "bicubic interpolation only supports 4D",
    ),
    ((1, 1, 4, 4), (1, 3, 3, 2), {"mode": "foo"}, ValueError, "expected mode"),
    ((1, 1, 4, 4), (1, 3, 3, 2), {"padding_mode": "foo"}, ValueError, "expected padding_mode"),
]


@pytest.mark.parametrize("shape, grid_shape, kwargs, error, match", SAMPLE_ERRORS)
def test_grid_sample_errors(shape, grid_shape, kwargs, error, match):
    with pytest.raises(error, match=match):
        F.grid_sample(irgrad.zeros(shape), irgrad.zeros(grid_shape), align_corners=False, **kwargs)


def test_grid_sample_dtype_errors():
    with pytest.raises(RuntimeError, match="same dtype"):
        F.grid_sample(
            irgrad.zeros(1, 1, 2, 2), irgrad.zeros(1, 1, 1, 2, dtype=irgrad.float64), align_corners=False
        )
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        F.grid_sample(irgrad.zeros(1, 1, 2, 2).long(), irgrad.zeros(1, 1, 1, 2).long(), align_corners=False)


@pytest.mark.parametrize("shape, grid_shape, kwargs, error, match", SAMPLE_ERRORS)
def test_grid_sample_errors_are_torchs(shape, grid_shape, kwargs, error, match):
    torch = pytest.importorskip("torch")
    with pytest.raises(error):
        torch.nn.functional.grid_sample(
            torch.zeros(shape), torch.zeros(grid_shape), align_corners=False, **kwargs
        )


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_torch(compare, align_corners):
    rng = np.random.default_rng(int(align_corners))
    for k in range(6):
        spatial = 2 if k % 3 else 3
        n = int(rng.integers(1, 4))
        size = (n, 2) + tuple(int(rng.integers(1, 9)) for _ in range(spatial))
        theta = rng.standard_normal((n, spatial, spatial + 1)).astype(np.float64 if k == 5 else np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unit-size grids with align_corners warn
            compare(
                lambda lib, t, s=size: lib.nn.functional.affine_grid(t, s, align_corners=align_corners), theta
            )


def test_affine_grid_base_is_torchs_linspace_bit_for_bit(compare):
    """The identity map returns the base grid: PyTorch's linspace, rounded as its kernel does."""
    for steps in (2, 3, 7, 8, 13, 29, 64):
        for dtype in (np.float32, np.float64):
            theta = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], dtype)
            for align_corners in (False, True):
                compare(
                    lambda lib, t, s=steps, a=align_corners: lib.nn.functional.affine_grid(
                        t, (1, 1, 2, s), a
                    ),
                    theta,
                    grad=False,
                    atol=0,
                    rtol=0,
                )


def test_affine_grid_theta_gradient_equals_finite_differences():
    theta = irgrad.tensor(np.random.default_rng(1).standard_normal((2, 2, 3)), requires_grad=True)
    assert irgrad.autograd.gradcheck(lambda t: F.affine_grid(t, (2, 3, 4, 5), align_corners=False), (theta,))


AFFINE_ERRORS = [
    ((2, 2, 3), (2, 1, 3), "float32", NotImplementedError, "only supports 4D and 5D sizes"),
    ((2, 2, 3), (2, 1, 3, 0), "float32", ValueError, "non-zero, positive output size"),
    ((2, 2, 3), (0, 1, 3, 3), "float32", ValueError, "non-zero, positive output size"),
    ((2, 2, 3), (2, 1, 3, 3), "int64", ValueError, "floating point type"),
    ((2, 3, 3), (2, 1, 3, 3), "float32", ValueError, "Nx2x3"),
    ((2, 2, 3), (2, 1, 3, 3, 3), "float32", ValueError, "Nx3x4"),
    ((1, 2, 3), (2, 1, 3, 3), "float32", RuntimeError, "matrices for an output batch of 2"),
]


@pytest.mark.parametrize("theta_shape, size, dtype, error, match", AFFINE_ERRORS)
def test_affine_grid_errors(theta_shape, size, dtype, error, match):
    with pytest.raises(error, match=match):
        F.affine_grid(irgrad.zeros(theta_shape, dtype=getattr(irgrad, dtype)), size, align_corners=False)


@pytest.mark.parametrize("theta_shape, size, dtype, error, match", AFFINE_ERRORS)
def test_affine_grid_errors_are_torchs(theta_shape, size, dtype, error, match):
    torch = pytest.importorskip("torch")
    with pytest.raises(error):
        torch.nn.functional.affine_grid(
            torch.zeros(theta_shape, dtype=getattr(torch, dtype)), size, align_corners=False
        )


class _SpatialTransformer(nn.Module):
    """Predicts an affine map from the image, resamples the image with it, and classifies."""

    def __init__(self) -> None:
        super().__init__()
        self.localize = nn.Linear(16, 6)
        self.classify = nn.Linear(2 * 16, 3)
        self.conv = nn.Conv2d(1, 2, 3, padding=1)

    def forward(self, x):
        theta = self.localize(x.flatten(1)).view(-1, 2, 3)
        grid = F.affine_grid(theta, x.shape, align_corners=False)
        warped = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
        return self.classify(self.conv(warped).flatten(1))


def _transformer_training():
    model = _SpatialTransformer()
    opt = irgrad.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    step = cross_entropy_step(model, opt)

    def batch(i):
        rng = np.random.default_rng(i)
        return irgrad.tensor(rng.standard_normal((3, 1, 4, 4)).astype(np.float32)), irgrad.tensor(
            rng.integers(0, 3, 3)
        )

    return Scenario(step, batch, lambda: model, calls=3)


def test_compiled_spatial_transformer_trains_as_eager():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a graph break would warn
        compiled = check(_transformer_training)
    assert all(e.graph_break is None for e in compiled._compiled.cache), compiled._compiled.log
