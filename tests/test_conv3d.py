"""F.conv3d, F.conv_transpose3d, nn.Conv3d and nn.ConvTranspose3d against PyTorch (values,
input/weight/bias gradients, module reprs), compiled against eager, and a known value."""

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F

CASES = [
    ("conv3d", (6, 2, 3, 2, 3), True, dict(groups=2)),
    ("conv3d", (3, 4, 2, 3, 3), False, dict(stride=(2, 1, 2), padding=(1, 0, 2), dilation=(2, 1, 1))),
    ("conv3d", (3, 4, 3, 3, 2), False, dict(padding="same", dilation=(1, 2, 1))),
    ("conv3d", (3, 4, 1, 1, 1), True, dict()),
    ("conv_transpose3d", (4, 3, 3, 2, 3), True, dict()),
    (
        "conv_transpose3d",
        (4, 3, 3, 2, 3),
        False,
        dict(stride=(2, 1, 2), padding=(1, 0, 1), output_padding=(1, 0, 1), dilation=(1, 2, 1)),
    ),
    ("conv_transpose3d", (4, 2, 2, 2, 2), True, dict(groups=2, stride=2)),
]


@pytest.mark.parametrize("unbatched", [False, True])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_as_torch(case, unbatched):
    torch = pytest.importorskip("torch")
    name, w_shape, with_bias, options = CASES[case]
    rng = np.random.default_rng(case)
    x = rng.standard_normal((4, 5, 6, 7) if unbatched else (2, 4, 5, 6, 7)).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    out_channels = w_shape[0] if name == "conv3d" else w_shape[1] * options.get("groups", 1)
    b = rng.standard_normal(out_channels).astype(np.float32) if with_bias else None
    results = []
    for lib in (irgrad, torch):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        bt = None if b is None else lib.tensor(b, requires_grad=True)
        out = getattr(lib.nn.functional, name)(xt, wt, bt, **options)
        weights = np.random.default_rng(9).standard_normal(tuple(out.shape)).astype(np.float32)
        (out * lib.tensor(weights)).sum().backward()
        results.append(
            [out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()]
            + ([bt.grad.numpy()] if b is not None else [])
        )
        if lib is irgrad:
            assert out.is_contiguous()
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-4)


def test_modules_as_torch_and_compiled():
    torch = pytest.importorskip("torch")
    makers = [
        lambda L: L.nn.Conv3d(4, 6, 3, stride=(1, 2, 1), padding=1, groups=2),
        lambda L: L.nn.Conv3d(4, 3, (2, 3, 3), padding=1, padding_mode="reflect"),
        lambda L: L.nn.ConvTranspose3d(4, 6, 3, stride=2, padding=1, output_padding=1),
    ]
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 6, 7)).astype(np.float32)
    for make in makers:
        mine, theirs = make(irgrad), make(torch)
        assert repr(mine) == repr(theirs)
        theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in mine.state_dict().items()})
        expected = theirs(torch.tensor(x)).detach().numpy()
        np.testing.assert_allclose(mine(irgrad.tensor(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-5)
        compiled = irgrad.compile(mine)
        np.testing.assert_allclose(
            compiled(irgrad.tensor(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-5
        )


def test_known_values_and_errors():
    x = irgrad.ones(1, 1, 3, 3, 3)
    out = F.conv3d(x, irgrad.ones(1, 1, 2, 2, 2), padding=0)
    np.testing.assert_array_equal(out.numpy(), np.full((1, 1, 2, 2, 2), 8.0))
    back = F.conv_transpose3d(irgrad.ones(1, 1, 2, 2, 2), irgrad.ones(1, 1, 2, 2, 2))
    assert back.shape == (1, 1, 3, 3, 3) and back.numpy()[0, 0, 1, 1, 1] == 8.0
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv3d(x, irgrad.ones(1, 1, 4, 1, 1))
    with pytest.raises(RuntimeError, match="expected input"):
        F.conv3d(x, irgrad.ones(1, 2, 1, 1, 1))
    assert nn.Conv3d(2, 3, 1).weight.shape == (3, 2, 1, 1, 1)
