"""max_pool3d, avg_pool3d, adaptive_avg_pool3d and their modules against PyTorch (values,
gradients with ties, indices, reprs), compiled against eager, and known values."""

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F

MAX = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2, 2), stride=(2, 1, 2), padding=(1, 0, 1), dilation=(2, 1, 1), ceil_mode=True),
    dict(kernel_size=2, ceil_mode=True, return_indices=True),
    dict(kernel_size=3, stride=2, padding=1, return_indices=True),
]
AVG = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(3, 2, 3), stride=2, padding=(1, 1, 1), ceil_mode=True),
    dict(kernel_size=(3, 2, 3), stride=2, padding=(1, 1, 1), ceil_mode=True, count_include_pad=False),
    dict(kernel_size=2, divisor_override=3),
]
ADAPTIVE = [
    dict(output_size=1),
    dict(output_size=(3, 2, 4)),
    dict(output_size=(None, 3, 2)),
    dict(output_size=4),
]
CASES = (
    [("max_pool3d", o) for o in MAX]
    + [("avg_pool3d", o) for o in AVG]
    + [("adaptive_avg_pool3d", o) for o in ADAPTIVE]
)


def _input(ties: bool, unbatched: bool):
    rng = np.random.default_rng(0)
    shape = (3, 7, 6, 5) if unbatched else (2, 3, 7, 6, 5)
    x = rng.integers(-2, 3, shape) if ties else rng.standard_normal(shape)
    return x.astype(np.float32)


@pytest.mark.parametrize("ties", [False, True], ids=["random", "ties"])
@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_as_torch(case, ties, unbatched):
    torch = pytest.importorskip("torch")
    name, options = CASES[case]
    x = _input(ties, unbatched)
    results = []
    for lib in (irgrad, torch):
        t = lib.tensor(x, requires_grad=True)
        out = getattr(lib.nn.functional, name)(t, **options)
        out, indices = out if isinstance(out, tuple) else (out, None)
        weights = np.random.default_rng(5).standard_normal(tuple(out.shape)).astype(np.float32)
        (out * lib.tensor(weights)).sum().backward()
        results.append((out.detach().numpy(), t.grad.numpy(), None if indices is None else indices.numpy()))
    (out_m, grad_m, idx_m), (out_t, grad_t, idx_t) = results
    np.testing.assert_allclose(out_m, out_t, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(grad_m, grad_t, rtol=1e-6, atol=1e-6)
    if idx_t is not None:
        np.testing.assert_array_equal(idx_m, idx_t)


def test_modules_as_torch_and_compiled():
    torch = pytest.importorskip("torch")
    for make in (
        lambda L: L.nn.MaxPool3d(2),
        lambda L: L.nn.MaxPool3d((3, 2, 2), stride=1, padding=1, ceil_mode=True),
        lambda L: L.nn.AvgPool3d(3, 2, 1),
        lambda L: L.nn.AdaptiveAvgPool3d((2, None, 3)),
    ):
        assert repr(make(irgrad)) == repr(make(torch))
    model = nn.Sequential(
        nn.Conv3d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2), nn.AvgPool3d(2, ceil_mode=True)
    )
    x = irgrad.tensor(_input(False, False))
    np.testing.assert_allclose(
        irgrad.compile(model)(x).detach().numpy(), model(x).detach().numpy(), rtol=1e-6, atol=1e-6
    )


def test_known_values():
    x = irgrad.tensor(np.arange(8.0, dtype=np.float32).reshape(1, 1, 2, 2, 2))
    assert F.max_pool3d(x, 2).item() == 7.0 and F.avg_pool3d(x, 2).item() == 3.5
    out, where = F.max_pool3d(x, 2, return_indices=True)
    assert where.item() == 7
    assert F.adaptive_avg_pool3d(x, 1).item() == 3.5
