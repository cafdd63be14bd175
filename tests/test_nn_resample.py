"""``F.interpolate`` and the Upsample layers: values, gradients, special values and errors
against PyTorch over random shapes, sizes and scales; known values, finite differences
and a compiled training step without it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_compile_state import Scenario, check

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F

RANKS = {
    "nearest": (3, 4, 5),
    "nearest-exact": (3, 4, 5),
    "linear": (3,),
    "bilinear": (4,),
    "bicubic": (4,),
    "trilinear": (5,),
    "area": (3, 4, 5),
}
INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")
FACTORS = (0.5, 1.0, 1.5, 2.0, 3.0, 0.7, 2.3, 1 / 3, 2.05)


def _random_case(rng, mode: str) -> tuple[np.ndarray, dict]:
    """An input (with batch and channel dims) and interpolate's keyword arguments."""
    rank = int(rng.choice(RANKS[mode]))
    spatial = rank - 2
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) + tuple(
        int(rng.integers(1, 7)) for _ in range(spatial)
    )
    dtype = np.float32 if rng.random() < 0.7 else np.float64
    kwargs: dict = {"mode": mode}
    if mode in INTERPOLATING:
        kwargs["align_corners"] = bool(rng.integers(0, 2))
    while True:
        if rng.random() < 0.5:
            sizes = tuple(int(rng.integers(1, 9)) for _ in range(spatial))
            kwargs["size"] = sizes if rng.random() < 0.7 else sizes[0]
            if isinstance(kwargs["size"], int):
                sizes = (sizes[0],) * spatial
        else:
            factors = tuple(float(rng.choice(FACTORS)) for _ in range(spatial))
            kwargs["scale_factor"] = factors if rng.random() < 0.7 else factors[0]
            if not isinstance(kwargs["scale_factor"], tuple):
                factors = (factors[0],) * spatial
            sizes = tuple(int(n * f) for n, f in zip(shape[2:], factors))
            if mode != "area" and rng.random() < 0.3:
                kwargs["recompute_scale_factor"] = True
        if min(sizes) >= 1:
            return rng.standard_normal(shape).astype(dtype), kwargs
        for key in ("size", "scale_factor", "recompute_scale_factor"):
            kwargs.pop(key, None)


def _torch_backward_disagrees(x: np.ndarray, kwargs: dict) -> bool:
    """PyTorch's 1-d and 3-d 'nearest' kernels read ``floor(dst * 1/scale_factor)`` forwards,
    but their backward copies ``dst`` (output of the input's size) or ``dst // 2`` (twice
    it) whatever the factor, so where those differ its gradient is not its forward's.
    irgrad's gradient is its forward's (see the known-value test below)."""
    if kwargs["mode"] != "nearest" or x.ndim == 4 or "scale_factor" not in kwargs:
        return False
    if kwargs.get("recompute_scale_factor"):
        return False
    factors = kwargs["scale_factor"]
    factors = factors if isinstance(factors, tuple) else (factors,) * (x.ndim - 2)
    for n, f in zip(x.shape[2:], factors):
        out = int(n * f)
        if out in (n, 2 * n) and not np.array_equal(
            np.minimum(np.floor(np.arange(out, dtype=np.float32) * np.float32(1 / f)), n - 1),
            np.arange(out) // (out // n),
        ):
            return True
    return False


@pytest.mark.parametrize("mode", list(RANKS))
@pytest.mark.parametrize("seed", range(5))
def test_interpolate_values_and_gradients_match_torch(compare, mode, seed):
    rng = np.random.default_rng([seed, len(mode)])
    for _ in range(4):
        x, kwargs = _random_case(rng, mode)
        grad = not _torch_backward_disagrees(x, kwargs)
        compare(lambda lib, t, kw=kwargs: lib.nn.functional.interpolate(t, **kw), x, grad=grad, atol=2e-5)


@pytest.mark.parametrize("rank", [3, 4, 5])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_indices_equal_torch_exactly(compare, rank, mode):
    """Each output copies exactly PyTorch's element (the floor of a float32 product decides)."""
    rng = np.random.default_rng(rank)
    for _ in range(12):
        n = int(rng.integers(1, 30))
        shape = (1, 1) + (1,) * (rank - 3) + (n,)
        x = np.arange(n, dtype=np.float32).reshape(shape)
        if rng.random() < 0.5:
            factor = float(rng.choice([*FACTORS, rng.uniform(0.2, 4.0)]))
            if int(n * factor) < 1:
                continue
            kwargs = {"scale_factor": (1.0,) * (rank - 3) + (factor,)}
        else:
            kwargs = {"size": (1,) * (rank - 3) + (int(rng.integers(1, 70)),)}
        compare(
            lambda lib, t, kw=kwargs: lib.nn.functional.interpolate(t, mode=mode, **kw), x, grad=False, atol=0
        )


def test_nearest_gradient_is_its_forwards_where_torchs_is_not():
    # 3 -> 6 with scale_factor 2.3 reads floor(dst / 2.3) = [0, 0, 0, 1, 1, 2] (as PyTorch)
    x = irgrad.arange(3.0).reshape(1, 1, 3).requires_grad_()
    y = F.interpolate(x, scale_factor=2.3)
    assert y.tolist() == [[[0.0, 0.0, 0.0, 1.0, 1.0, 2.0]]]
    y.backward(irgrad.arange(6.0).reshape(1, 1, 6))
    assert x.grad.tolist() == [[[3.0, 7.0, 5.0]]]  # PyTorch's backward gives [1, 5, 9]


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("mode", list(RANKS))
def test_infinities_and_nans_spread_as_in_torch(compare, mode):
    """Zero weights multiply infinities into NaN exactly where PyTorch's kernels do."""
    rng = np.random.default_rng(len(mode))
    for _ in range(10):
        rank = int(rng.choice(RANKS[mode]))
        shape = (1, 2) + tuple(int(rng.integers(1, 5)) for _ in range(rank - 2))
        x = rng.standard_normal(shape).astype(np.float32)
        flat = x.reshape(-1)
        flat[rng.integers(0, flat.size, 2)] = rng.choice([np.inf, -np.inf, np.nan], 2)
        kwargs = {"size": tuple(int(rng.integers(1, 7)) for _ in range(rank - 2)), "mode": mode}
        if mode in INTERPOLATING:
            kwargs["align_corners"] = bool(rng.integers(0, 2))
        compare(lambda lib, t, kw=kwargs: lib.nn.functional.interpolate(t, **kw), x, grad=False)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_adaptive_average_pooling_keeps_infinities_in_their_windows(compare):
    """Uneven windows are summed pick by pick, never as a matrix product (which turns an
    infinity into NaN in every window, through its zero weights)."""
    x = np.random.default_rng(4).standard_normal((1, 2, 5, 7)).astype(np.float32)
    x[0, 0, 1, 2], x[0, 1, 4, 6] = np.inf, np.nan
    compare(lambda lib, t: lib.nn.functional.adaptive_avg_pool2d(t, (3, 4)), x, grad=False)
    compare(lambda lib, t: lib.nn.functional.adaptive_avg_pool1d(t[0], 3), x[:, :, 1], grad=False)


def test_known_values_of_upsample_modes():
    x = irgrad.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    nearest = nn.Upsample(scale_factor=2, mode="nearest")(x)
    np.testing.assert_array_equal(
        nearest[0, 0].numpy(), [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    )
    half_pixel = nn.Upsample(scale_factor=2, mode="bilinear")(x)
    np.testing.assert_allclose(
        half_pixel[0, 0].numpy(),
        [[1.0, 1.25, 1.75, 2.0], [1.5, 1.75, 2.25, 2.5], [2.5, 2.75, 3.25, 3.5], [3.0, 3.25, 3.75, 4.0]],
    )
    corners = nn.UpsamplingBilinear2d(scale_factor=2)(x)
    third = 1 / 3
    np.testing.assert_allclose(
        corners[0, 0].numpy(),
        np.add.outer([0, 2 * third, 4 * third, 2], [1, 1 + third, 1 + 2 * third, 2]),
        rtol=1e-6,
    )
    area = F.interpolate(irgrad.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]), size=2, mode="area")
    np.testing.assert_allclose(area.numpy(), [[[2.0, 4.0]]])  # windows [0, 3) and [2, 5)


@pytest.mark.parametrize(
    "mode, shape, kwargs",
    [
        ("nearest", (1, 2, 3, 4), {"size": (5, 3)}),
        ("nearest-exact", (2, 1, 3, 2, 4), {"scale_factor": (1.5, 2.0, 0.5)}),
        ("linear", (2, 2, 5), {"size": 7, "align_corners": True}),
        ("bilinear", (1, 2, 3, 4), {"scale_factor": 1.7}),
        ("bicubic", (1, 1, 4, 3), {"size": (6, 5)}),
        ("bicubic", (1, 1, 4, 5), {"size": (3, 2), "align_corners": True}),
        ("trilinear", (1, 1, 2, 3, 2), {"size": (3, 2, 4)}),
        ("area", (1, 2, 7, 5), {"size": (3, 2)}),
        ("area", (1, 1, 4, 5, 6), {"scale_factor": 0.6}),
    ],
)
def test_gradients_equal_finite_differences(mode, shape, kwargs):
    x = irgrad.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)
    assert irgrad.autograd.gradcheck(lambda t: F.interpolate(t, mode=mode, **kwargs), (x,))


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic", "area"])
def test_half_precision_matches_torch(compare, mode):
    x = np.random.default_rng(1).standard_normal((1, 2, 5, 4)).astype(np.float16)
    compare(lambda lib, t: lib.nn.functional.interpolate(t, size=(3, 7), mode=mode), x, grad=False, atol=2e-3)


def test_uint8_nearest_matches_torch(compare):
    x = np.random.default_rng(2).integers(0, 256, (2, 3, 4, 5)).astype(np.uint8)
    compare(lambda lib, t: lib.nn.functional.interpolate(t, size=(7, 3)), x, grad=False)


@pytest.mark.parametrize(
    "shape, kwargs, grad",
    [
        ((0, 2, 5), {"size": 3}, True),
        ((0, 2, 5), {"size": 3, "mode": "linear"}, True),
        ((0, 1, 4, 4), {"scale_factor": 2, "mode": "bicubic"}, True),
        ((0, 2, 5), {"size": 3, "mode": "area"}, True),
        # PyTorch's adaptive pooling backward refuses an empty channel or output: values only
        ((2, 0, 5), {"size": 3, "mode": "area"}, False),
        ((2, 1, 5, 5, 5), {"size": 0, "mode": "area"}, False),
    ],
)
def test_empty_inputs_match_torch(compare, shape, kwargs, grad):
    compare(lambda lib, t: lib.nn.functional.interpolate(t, **kwargs), np.zeros(shape, np.float32), grad=grad)


Z3, Z4, Z5 = (1, 1, 8), (1, 1, 8, 8), (1, 1, 4, 4, 4)
ERRORS = [
    (Z3, "int64", {"size": 4}, NotImplementedError, "not implemented for 'Long'"),
    (Z3, "uint8", {"size": 4, "mode": "linear"}, NotImplementedError, "not implemented for 'Byte'"),
    (Z3, "int32", {"size": 4, "mode": "area"}, NotImplementedError, "not implemented for 'Int'"),
    (Z3, "float32", {"size": 0}, RuntimeError, r"input \(W: 8\) and output \(W: 0\)"),
    (Z4, "float32", {"size": (0, 3), "mode": "bilinear"}, RuntimeError, "greater than 0"),
    (Z5, "float32", {"size": (2, -1, 2), "mode": "trilinear"}, RuntimeError, "greater than 0"),
    (Z3, "float32", {"scale_factor": 0.01}, RuntimeError, "greater than 0"),
    (Z3, "float32", {"scale_factor": float("inf")}, RuntimeError, "without overflow"),
    ((2, 0, 8), "float32", {"size": 4}, RuntimeError, "Non-empty 3D data tensor expected"),
    ((2, 1, 0), "float32", {"size": 4}, RuntimeError, "greater than 0"),
    ((2, 1, 0), "float32", {"size": 4, "mode": "area"}, RuntimeError, "non-zero size"),
    (
        (1, 8),
        "float32",
        {"size": 4},
        NotImplementedError,
        r"Only 3D, 4D and 5D input Tensors supported \(got 2D\)",
    ),
    ((1, 1, 1, 1, 1, 8), "float32", {"size": 4}, NotImplementedError, r"\(got 6D\)"),
    (Z3, "float32", {"size": 4.0}, TypeError, "size"),
    (Z3, "float32", {"size": (4.0,)}, TypeError, "expected size to be one of int"),
    (Z3, "float32", {"size": (4, 4)}, ValueError, "same number of spatial dimensions"),
    (Z3, "float32", {"scale_factor": (2, 2)}, ValueError, "same number of spatial dimensions"),
    (Z3, "float32", {"scale_factor": 2, "mode": "foo"}, NotImplementedError, r"\(got foo\)"),
    (Z3, "float32", {"scale_factor": 2, "mode": "bilinear"}, NotImplementedError, "needs 4D input"),
    (Z4, "float32", {"scale_factor": 2, "mode": "linear"}, NotImplementedError, "needs 3D input"),
    (Z3, "float32", {"scale_factor": 2, "mode": "bicubic"}, NotImplementedError, r"\(got bicubic\)"),
    (Z3, "float32", {"scale_factor": 2, "align_corners": True}, ValueError, "align_corners option"),
    (Z3, "float32", {"size": 4, "scale_factor": 2}, ValueError, "only one of size or scale_factor"),
    (Z3, "float32", {}, ValueError, "either size or scale_factor"),
    (Z3, "float32", {"size": 4, "recompute_scale_factor": True}, ValueError, "not meaningful"),
    (Z3, "float32", {"size": 4, "antialias": True}, ValueError, "Anti-alias option is restricted"),
    (Z4, "float32", {"size": 4, "mode": "lanczos"}, ValueError, "requires antialias=True"),
    (Z3, "float32", {"size": 4, "mode": "linear", "align_corners": 1}, TypeError, "align_corners"),
]


@pytest.mark.parametrize("shape, dtype, kwargs, error, match", ERRORS)
def test_interpolate_errors(shape, dtype, kwargs, error, match):
    with pytest.raises(error, match=match):
        F.interpolate(irgrad.zeros(shape, dtype=getattr(irgrad, dtype)), **kwargs)


@pytest.mark.parametrize("shape, dtype, kwargs, error, match", ERRORS)
def test_interpolate_errors_are_torchs(shape, dtype, kwargs, error, match):
    torch = pytest.importorskip("torch")
    with pytest.raises(error):
        torch.nn.functional.interpolate(torch.zeros(shape, dtype=getattr(torch, dtype)), **kwargs)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_antialias_and_uint8_interpolation_are_not_implemented(mode):
    with pytest.raises(NotImplementedError, match="antialias"):
        F.interpolate(irgrad.zeros(1, 1, 8, 8), size=(3, 3), mode=mode, antialias=True)
    with pytest.raises(NotImplementedError, match="uint8"):
        F.interpolate(irgrad.zeros(1, 1, 8, 8, dtype=irgrad.uint8), size=(3, 3), mode=mode)


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.nn.Upsample(scale_factor=2),
        lambda lib: lib.nn.Upsample(size=(3, 7), mode="bilinear"),
        lambda lib: lib.nn.Upsample(scale_factor=(1.5, 0.5), mode="bicubic", align_corners=True),
        lambda lib: lib.nn.UpsamplingNearest2d(size=5),
        lambda lib: lib.nn.UpsamplingBilinear2d(scale_factor=1.5),
    ],
)
def test_upsample_layers_match_torch(compare, make):
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 6)).astype(np.float32)
    compare(lambda lib, t: make(lib)(t), x)


def test_upsample_layers_repr_and_state():
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert repr(nn.Upsample(size=(3, 4), mode="bilinear")) == "Upsample(size=(3, 4), mode='bilinear')"
    assert (
        repr(nn.UpsamplingBilinear2d(scale_factor=2))
        == "UpsamplingBilinear2d(scale_factor=2.0, mode='bilinear')"
    )
    assert repr(nn.UpsamplingNearest2d(size=4)) == "UpsamplingNearest2d(size=4, mode='nearest')"
    layer = nn.UpsamplingBilinear2d(size=3)
    assert layer.align_corners is True and layer.state_dict() == {} and list(layer.parameters()) == []


@pytest.mark.parametrize(
    "fn, kwargs",
    [
        (F.upsample, {"scale_factor": 2}),
        (F.upsample_nearest, {"size": 3}),
        (F.upsample_bilinear, {"size": 3}),
    ],
)
def test_deprecated_upsample_functions_warn_and_interpolate(fn, kwargs):
    x = irgrad.randn(1, 1, 4, 4)
    with pytest.warns(UserWarning, match="deprecated"):
        out = fn(x, **kwargs)
    mode = "bilinear" if fn is F.upsample_bilinear else "nearest"
    align = True if fn is F.upsample_bilinear else None
    expected = F.interpolate(x, mode=mode, align_corners=align, **kwargs)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


def _decoder_training():
    """A small decoder that resizes in every mode, trained with SGD (compiled or eager)."""
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.Upsample(scale_factor=2, mode="bilinear"),
        nn.Conv2d(3, 2, 3),
        nn.Upsample(size=(5, 7), mode="bicubic", align_corners=True),
        nn.Upsample(scale_factor=0.6, mode="area"),
        nn.Upsample(scale_factor=1.7, mode="nearest-exact"),
    )
    opt = irgrad.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def step(x):
        opt.zero_grad()
        loss = (F.interpolate(model(x), size=(4, 4), mode="nearest") ** 2).mean()
        loss.backward()
        opt.step()
        return loss.detach()

    def batch(i):
        rng = np.random.default_rng(i)
        return (irgrad.tensor(rng.standard_normal((2, 2, 6, 6)).astype(np.float32)),)

    return Scenario(step, batch, lambda: model, calls=3)


def test_compiled_resampling_model_trains_as_eager():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a graph break would warn
        compiled = check(_decoder_training)
    assert all(e.graph_break is None for e in compiled._compiled.cache), compiled._compiled.log
