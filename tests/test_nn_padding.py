"""F.pad's reflect, replicate and circular modes, the padding layers (ReflectionPad2d ...)
and Conv's padding_mode, against PyTorch: values, gradients, shapes, errors; and the
gradient by finite differences, and compiled."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import run_both

import irgrad

torch = pytest.importorskip("torch")

MODES = ["reflect", "replicate", "circular"]
rng = np.random.default_rng(0)

SHAPES_PADS = [
    ((2, 3, 5), (2, 1)),
    ((3, 5), (4, 0)),
    ((2, 3, 5), (-1, 2)),
    ((2, 3, 5), (-4, 1)),
    ((2, 3, 5), (0, 0)),
    ((0, 3, 5), (1, 1)),
    ((1, 2, 4, 5), (1, 2, 3, 0)),
    ((2, 4, 5), (3, 3, 1, 1)),
    ((2, 3, 4, 5), (-1, 1, 2, -2)),
    ((1, 1, 3, 4, 5), (1, 2, 0, 1, 2, 2)),
    ((2, 3, 4, 5), (1, 1, 1, 1, 1, 1)),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape,pad", SHAPES_PADS)
def test_pad_modes_match_torch(mode: str, shape: tuple, pad: tuple) -> None:
    run_both(
        lambda L, x: L.nn.functional.pad(x, pad, mode=mode),
        rng.standard_normal(shape),
        atol=1e-12,
        rtol=1e-12,
    )  # (gradients: sums in another order)


@pytest.mark.parametrize("mode", MODES)
def test_every_padding_of_a_short_dim_matches_torch_or_both_raise(mode: str) -> None:
    """Every (left, right) in [-6, 6]^2 on a dim of 5: the same result, or both raise the
    same exception type. Circular padding that wraps more than once around what the
    negative sides leave is refused (PyTorch raises or reads past it, by copy order)."""
    x = rng.standard_normal((2, 3, 5))
    for left, right in itertools.product(range(-6, 7), repeat=2):
        try:
            want = torch.nn.functional.pad(torch.tensor(x), (left, right), mode=mode).numpy()
        except Exception as err:
            with pytest.raises(type(err)):
                irgrad.nn.functional.pad(irgrad.tensor(x), (left, right), mode=mode)
            continue
        if mode == "circular" and max(left, right) > 5 + min(left, 0) + min(right, 0):
            with pytest.raises(RuntimeError, match="wrapping around more than once|empty dimension"):
                irgrad.nn.functional.pad(irgrad.tensor(x), (left, right), mode=mode)
            continue
        got = irgrad.nn.functional.pad(irgrad.tensor(x), (left, right), mode=mode).numpy()
        np.testing.assert_array_equal(got, want, err_msg=str((left, right)))


@pytest.mark.parametrize(
    "shape,pad,mode,value",
    [
        ((1, 2, 4, 4), (1, 1), "reflect", None),  # a 1-d padding of a 4-d input
        ((4,), (1, 1), "replicate", None),
        ((2, 4, 4), (1,) * 6, "circular", None),
        ((2, 3, 4), (4, 0), "reflect", None),
        ((2, 3, 4), (5, 0), "circular", None),
        ((2, 3, 4), (-2, -2), "replicate", None),
        ((2, 0, 4), (1, 1), "reflect", None),
        ((2, 3, 4), (1, 1), "reflect", 2.0),
        ((2, 3, 4), (1, 1), "bogus", None),
        # found by probing: irgrad's own messages, a crop past empty returned an empty tensor,
        # float pads and a None mode were taken
        ((2, 3, 4), (1,), "constant", None),
        ((2, 3, 4), (1,) * 8, "constant", None),
        ((2, 3, 4), (1,) * 8, "reflect", None),
        ((2, 3, 4), (-3, -2), "constant", None),
        ((2, 3, 4), (0, 0, -2, -2), "constant", None),
        ((2, 3, 4), (1.0, 1), "constant", None),
        ((2, 3, 4), (1, 1.5), "constant", None),
        ((2, 3, 4), (True, 1), "constant", None),
        ((2, 3, 4), (1, 1), None, None),
    ],
)
def test_bad_padding_raises_as_torch(shape, pad, mode, value) -> None:
    with pytest.raises(Exception) as theirs:
        torch.nn.functional.pad(torch.zeros(shape), pad, mode=mode, value=value)
    with pytest.raises(type(theirs.value)) as mine:
        irgrad.nn.functional.pad(irgrad.zeros(shape), pad, mode=mode, value=value)
    if "too small" not in str(theirs.value):  # (PyTorch's 2-d and 3-d forms of that one vary)
        assert str(mine.value) == str(theirs.value)


@pytest.mark.parametrize(
    "shape,pad", [((1, 3, 4), (1, 1)), ((2, 3, 4), (1, 1, 1, 1)), ((1, 1, 2, 3, 4), (1,) * 6)]
)
@pytest.mark.parametrize("mode", MODES)
def test_bool_padding_as_torch(shape, pad, mode) -> None:
    # PyTorch's reflection and replication kernels have no bool case (irgrad padded; found
    # by probing); circular padding is a copy and takes bool
    x = np.arange(np.prod(shape)).reshape(shape) % 3 == 0
    if mode == "circular":
        want = torch.nn.functional.pad(torch.tensor(x), pad, mode=mode).numpy()
        np.testing.assert_array_equal(
            irgrad.nn.functional.pad(irgrad.tensor(x), pad, mode=mode).numpy(), want
        )
        return
    with pytest.raises(NotImplementedError) as theirs:
        torch.nn.functional.pad(torch.tensor(x), pad, mode=mode)
    with pytest.raises(NotImplementedError, match=f"^{theirs.value}$".replace('"', ".")):
        irgrad.nn.functional.pad(irgrad.tensor(x), pad, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_pad_gradient_by_finite_differences(mode: str) -> None:
    x = irgrad.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    assert irgrad.autograd.gradcheck(lambda t: irgrad.nn.functional.pad(t, (2, 1, 1, 2), mode=mode), (x,))


@pytest.mark.parametrize("mode", MODES)
def test_compiled_padding_equals_eager(mode: str, backend: str) -> None:
    def f(x):
        return (irgrad.nn.functional.pad(x, (1, 2, 2, 1), mode=mode) ** 2).sum()

    compiled = irgrad.compile(f, backend=backend)
    x = irgrad.tensor(rng.standard_normal((2, 3, 4, 5)), requires_grad=True)
    for _ in range(2):
        (g_compiled,) = irgrad.autograd.grad(compiled(x), x)
    (g_eager,) = irgrad.autograd.grad(f(x), x)
    np.testing.assert_allclose(g_compiled.numpy(), g_eager.numpy(), rtol=1e-12)


LAYERS = [
    ("ReflectionPad1d", (2,), (2, 3, 5)),
    ("ReflectionPad2d", ((1, 0, 2, 1),), (1, 2, 4, 5)),
    ("ReflectionPad3d", (1,), (1, 2, 3, 4, 5)),
    ("ReplicationPad1d", ((3, 1),), (3, 5)),
    ("ReplicationPad2d", (2,), (2, 3, 4, 5)),
    ("ReplicationPad3d", ((1, 0, 0, 2, 1, 1),), (2, 3, 4, 5)),
    ("CircularPad1d", (2,), (2, 3, 5)),
    ("CircularPad2d", ((1, 2, 0, 3),), (1, 2, 4, 5)),
    ("CircularPad3d", (1,), (1, 2, 3, 4, 5)),
    ("ConstantPad1d", (2, 3.5), (2, 3, 5)),
    ("ConstantPad2d", ((1, 0, -1, 2), -1.0), (1, 2, 4, 5)),
    ("ConstantPad3d", (1, 0.5), (2, 3, 4, 5)),
    ("ZeroPad1d", ((1, 2),), (2, 5)),
    ("ZeroPad2d", (2,), (1, 2, 4, 5)),
    ("ZeroPad3d", ((0, 1, 1, 0, 2, 2),), (1, 2, 3, 4, 5)),
]


@pytest.mark.parametrize("name,args,shape", LAYERS)
def test_padding_layers_match_torch(name: str, args: tuple, shape: tuple) -> None:
    mine, theirs = getattr(irgrad.nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(mine) == repr(theirs) and mine.padding == theirs.padding
    bases = [
        c.__name__
        for c in type(theirs).__mro__
        if c.__module__.startswith("torch.nn") and c.__name__[0] != "_"
    ]
    assert [c.__name__ for c in type(mine).__mro__ if c.__name__ in bases] == bases
    run_both(
        lambda L, x: (mine if L is irgrad else theirs)(x), rng.standard_normal(shape), atol=1e-12, rtol=1e-12
    )  # (gradients: sums in another order)


def test_circular_pad_layer_checks_the_input_rank() -> None:
    for lib in (irgrad, torch):
        with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
            lib.nn.CircularPad2d(1)(lib.zeros(4, 4))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "layer,padding,shape",
    [("Conv2d", 1, (2, 2, 5, 6)), ("Conv2d", "same", (1, 2, 5, 6)), ("Conv1d", (2,), (2, 2, 7))],
)
def test_conv_padding_mode_matches_torch(mode: str, layer: str, padding, shape: tuple) -> None:
    theirs = getattr(torch.nn, layer)(2, 3, 3, padding=padding, padding_mode=mode, dilation=1).double()
    mine = getattr(irgrad.nn, layer)(2, 3, 3, padding=padding, padding_mode=mode).double()
    mine.load_state_dict({k: irgrad.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    assert repr(mine) == repr(theirs)
    assert mine._reversed_padding_repeated_twice == list(theirs._reversed_padding_repeated_twice)
    run_both(
        lambda L, x, w: (mine if L is irgrad else theirs)(x) * w,
        rng.standard_normal(shape),
        rng.standard_normal(tuple(theirs(torch.zeros(shape, dtype=torch.float64)).shape)),
        atol=1e-12,
        rtol=1e-12,
    )


def test_conv_padding_mode_errors_as_torch() -> None:
    for lib in (irgrad, torch):
        with pytest.raises(ValueError, match="padding_mode must be one of"):
            lib.nn.Conv2d(2, 3, 3, padding_mode="mirror")
        with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
            lib.nn.ConvTranspose2d(2, 3, 3, padding_mode="reflect")
