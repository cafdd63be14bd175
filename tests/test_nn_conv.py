"""Convolution and pooling (functional and modules) against PyTorch, plus gradchecks."""

from __future__ import annotations

import numpy as np
import pytest

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F
from irgrad.ops import OPS

rng = np.random.default_rng(0)


def _rand(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def _compare(fi, ft, arrays, tol=1e-4):
    """Run fi on irgrad and ft on torch; compare outputs and input gradients."""
    torch = pytest.importorskip("torch")
    xi = [irgrad.tensor(a, requires_grad=True) for a in arrays]
    xt = [torch.tensor(a, requires_grad=True) for a in arrays]
    oi, ot = fi(*xi), ft(*xt)
    if isinstance(oi, tuple):
        oi, ot = oi[0], ot[0]
    assert tuple(oi.shape) == tuple(ot.shape)
    np.testing.assert_allclose(oi.detach().numpy(), ot.detach().numpy(), rtol=tol, atol=tol)
    g = rng.standard_normal(tuple(ot.shape)).astype(np.float32)
    oi.backward(irgrad.tensor(g))
    ot.backward(torch.tensor(g))
    for a, b in zip(xi, xt):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)


CONV2D_CASES = [
    (1, 0, 1, 1),
    (2, 1, 1, 1),
    (1, 2, 2, 1),
    (2, 1, 1, 2),
    (1, "same", 1, 1),
    (1, "same", 2, 2),
    (1, "valid", 1, 1),
    ((2, 1), (1, 0), (1, 2), 1),
]


@pytest.mark.parametrize("stride,padding,dilation,groups", CONV2D_CASES)
def test_conv2d_matches_torch(stride, padding, dilation, groups):
    tf = pytest.importorskip("torch").nn.functional
    _compare(
        lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups),
        lambda x, w, b: tf.conv2d(x, w, b, stride, padding, dilation, groups),
        [_rand(2, 4, 9, 8), _rand(6, 4 // groups, 3, 3), _rand(6)],
    )


def test_conv2d_unbatched_and_no_bias():
    tf = pytest.importorskip("torch").nn.functional
    _compare(
        lambda x, w: F.conv2d(x, w, padding=1),
        lambda x, w: tf.conv2d(x, w, padding=1),
        [_rand(3, 5, 5), _rand(2, 3, 3, 3)],
    )


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 1), (1, "same", 2)])
def test_conv1d_matches_torch(stride, padding, dilation):
    tf = pytest.importorskip("torch").nn.functional
    _compare(
        lambda x, w, b: F.conv1d(x, w, b, stride, padding, dilation),
        lambda x, w, b: tf.conv1d(x, w, b, stride, padding, dilation),
        [_rand(2, 3, 11), _rand(5, 3, 3), _rand(5)],
    )


@pytest.mark.parametrize(
    "stride,padding,output_padding,dilation,groups",
    [(1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (2, 0, 1, 2, 1), (3, 1, 2, 1, 2)],
)
def test_conv_transpose2d_matches_torch(stride, padding, output_padding, dilation, groups):
    tf = pytest.importorskip("torch").nn.functional
    _compare(
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation),
        lambda x, w, b: tf.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation),
        [_rand(2, 4, 5, 6), _rand(4, 3, 3, 3), _rand(3 * groups)],
    )


def test_conv_transpose1d_matches_torch():
    tf = pytest.importorskip("torch").nn.functional
    _compare(
        lambda x, w, b: F.conv_transpose1d(x, w, b, 2, 1, 1),
        lambda x, w, b: tf.conv_transpose1d(x, w, b, 2, 1, 1),
        [_rand(2, 4, 7), _rand(4, 3, 3), _rand(3)],
    )


def test_conv_transpose_with_padding_and_no_bias_returns_a_contiguous_tensor():
    # PyTorch's result is a new tensor: .view() of it works (found by the fuzzer, seed
    # 777000, program 113); irgrad returned a view of the cropped image
    x = irgrad.tensor(_rand(2, 2, 4, 3), requires_grad=True)
    out = F.conv_transpose2d(x, irgrad.tensor(_rand(2, 1, 2, 2)), padding=1)
    assert out.is_contiguous()
    out.view(-1, 1, 2).sum().backward()
    assert F.conv_transpose1d(
        irgrad.tensor(_rand(2, 4, 9)), irgrad.tensor(_rand(4, 2, 3)), padding=1
    ).is_contiguous()
    assert nn.ConvTranspose2d(2, 3, 3, stride=2, padding=2, bias=False)(x).is_contiguous()


POOL_CASES = [
    (2, None, 0, 1, False),
    (3, 2, 1, 1, False),
    (3, 2, 1, 1, True),
    (2, 1, 0, 2, False),
    (3, 3, 1, 1, True),
]


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", POOL_CASES)
def test_max_pool2d_matches_torch(kernel, stride, padding, dilation, ceil_mode):
    tf = pytest.importorskip("torch").nn.functional
    _compare(
        lambda x: F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode),
        lambda x: tf.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode),
        [_rand(2, 3, 9, 10)],
    )


def test_max_pool2d_ties_send_gradient_to_one_position():
    torch = pytest.importorskip("torch")
    x = np.ones((1, 1, 4, 4), dtype=np.float32)
    _compare(lambda t: F.max_pool2d(t, 2), lambda t: torch.nn.functional.max_pool2d(t, 2), [x])


def test_max_pool2d_return_indices_match_torch():
    torch = pytest.importorskip("torch")
    x = _rand(2, 3, 8, 9)
    ours = F.max_pool2d(irgrad.tensor(x), 3, 2, 1, return_indices=True)[1].numpy()
    theirs = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)[1].numpy()
    np.testing.assert_array_equal(ours, theirs)


def _neg_inf_image(*shape):
    """Mostly ``-inf``, with a few NaNs and finite values: windows that are ``-inf``
    throughout, at the padded borders too."""
    x = np.full(shape, -np.inf, dtype=np.float32)
    x.reshape(-1)[::7] = rng.standard_normal(x.size // 7 + 1)[: x.reshape(-1)[::7].size]
    x.reshape(-1)[3::11] = np.nan
    x[..., :3, :3] = -np.inf  # a -inf corner: the top-left windows have nothing but -inf
    return x


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", POOL_CASES + [(3, 1, 1, 2, False)])
def test_max_pool2d_neg_inf_and_nan_windows_match_torch(kernel, stride, padding, dilation, ceil_mode):
    """A window that is -inf throughout has its first element inside the input as its
    maximum (PyTorch never looks at padding): its index and gradient, not the padding's."""
    torch = pytest.importorskip("torch")
    x = _neg_inf_image(2, 3, 9, 10)
    g = rng.standard_normal((2, 3, 9, 10)).astype(np.float32)
    results = []
    for lib, f in ((irgrad, F), (torch, torch.nn.functional)):
        t = lib.tensor(x, requires_grad=True)
        out, indices = f.max_pool2d(t, kernel, stride, padding, dilation, ceil_mode, return_indices=True)
        (out * lib.tensor(g[..., : out.shape[2], : out.shape[3]])).sum().backward()
        results.append((out.detach().numpy(), indices.numpy(), t.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)


def test_max_pool1d_neg_inf_windows_match_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[[-np.inf, -np.inf, -np.inf, 2.0, -np.inf, np.nan, -np.inf]]], dtype=np.float32)
    results = []
    for lib, f in ((irgrad, F), (torch, torch.nn.functional)):
        t = lib.tensor(x, requires_grad=True)
        out, indices = f.max_pool1d(t, 3, 1, 1, return_indices=True)
        (out * lib.arange(1.0, 8.0)).sum().backward()
        results.append((out.detach().numpy(), indices.numpy(), t.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)


def test_max_pool2d_neg_inf_windows_compiled_as_eager():
    x = irgrad.tensor(_neg_inf_image(1, 2, 6, 6), requires_grad=True)

    def pool(t):
        return (F.max_pool2d(t, 3, 2, 1) * irgrad.arange(1.0, 10.0).reshape(3, 3)).sum()

    pool(x).backward()
    eager = x.grad.numpy().copy()
    x.grad = None
    irgrad.compile(pool)(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), eager)


def test_max_pool2d_compiled_gives_eager_indices_and_gradients_at_every_call():
    """A compiled padded max pool with ``return_indices``: its indices are computed by ops
    (they were numpy on the traced values, which validation caught: the graph was
    rejected and ran eagerly), right at every call, ``-inf`` windows at the border too."""
    from graph_calls import graph_call

    weights = irgrad.arange(1.0, 10.0).reshape(3, 3)

    def pool(t):
        out, indices = F.max_pool2d(t, 3, 2, 1, return_indices=True)
        return (out * weights).sum(), indices

    compiled = irgrad.compile(pool)
    images = [rng.standard_normal((1, 2, 6, 6)).astype(np.float32) for _ in range(3)]
    for image in images + [_neg_inf_image(1, 2, 6, 6)] + images[:1]:
        x, y = irgrad.tensor(image, requires_grad=True), irgrad.tensor(image, requires_grad=True)
        (got, got_indices), (want, want_indices) = graph_call(compiled, x), pool(y)
        got.backward()
        want.backward()
        np.testing.assert_array_equal(got_indices.numpy(), want_indices.numpy())
        np.testing.assert_array_equal(x.grad.numpy(), y.grad.numpy())
        np.testing.assert_allclose(got.item(), want.item(), rtol=1e-6)  # (a sum: its order)
    assert not any("rejected" in event for event in compiled._compiled.log)


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_matches_torch(kernel, stride, padding, dilation, ceil_mode, count_include_pad):
    tf = pytest.importorskip("torch").nn.functional
    _compare(
        lambda x: F.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad),
        lambda x: tf.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad),
        [_rand(2, 3, 9, 10)],
    )


@pytest.mark.parametrize("size", [1, (2, 3), (3, 5), (4, 4), (None, 2)])
def test_adaptive_pools_match_torch(size):
    tf = pytest.importorskip("torch").nn.functional
    _compare(
        lambda x: F.adaptive_avg_pool2d(x, size),
        lambda x: tf.adaptive_avg_pool2d(x, size),
        [_rand(2, 3, 9, 10)],
    )
    _compare(
        lambda x: F.adaptive_max_pool2d(x, size),
        lambda x: tf.adaptive_max_pool2d(x, size),
        [_rand(2, 3, 9, 10)],
    )


def test_pool1d_and_adaptive1d_match_torch():
    tf = pytest.importorskip("torch").nn.functional
    _compare(lambda x: F.max_pool1d(x, 3, 2, 1), lambda x: tf.max_pool1d(x, 3, 2, 1), [_rand(2, 3, 11)])
    _compare(lambda x: F.avg_pool1d(x, 3, 2, 1), lambda x: tf.avg_pool1d(x, 3, 2, 1), [_rand(2, 3, 11)])
    _compare(lambda x: F.adaptive_avg_pool1d(x, 4), lambda x: tf.adaptive_avg_pool1d(x, 4), [_rand(2, 3, 11)])


def test_unfold_fold_match_torch():
    tf = pytest.importorskip("torch").nn.functional
    _compare(lambda x: F.unfold(x, 3, 1, 1, 2), lambda x: tf.unfold(x, 3, 1, 1, 2), [_rand(2, 3, 7, 8)])
    _compare(
        lambda x: F.fold(x, (7, 8), 3, 1, 1, 2), lambda x: tf.fold(x, (7, 8), 3, 1, 1, 2), [_rand(2, 27, 16)]
    )


WINDOW_CASES = [  # kernel, stride, dilation: overlapping, tiling, gapped and dilated windows
    ((2, 3), (2, 1), (1, 2)),
    ((3, 3), (1, 1), (1, 1)),
    ((1, 2), (3, 2), (2, 1)),
    ((2, 2), (2, 2), (1, 1)),
    ((3, 2), (2, 3), (1, 1)),
    ((3, 3), (3, 2), (2, 1)),
    ((2, 1), (1, 1), (3, 2)),
]


@pytest.mark.parametrize("layout", ["rows", "cols"])
@pytest.mark.parametrize("kernel,stride,dilation", WINDOW_CASES)
def test_im2col_col2im_are_adjoint(kernel, stride, dilation, layout):
    """<im2col(x), y> == <x, col2im(y)> for random windows: col2im is im2col's transpose."""
    attrs = {"kernel": kernel, "stride": stride, "dilation": dilation, "layout": layout}
    for size in [(8, 8), (9, 7)]:
        x = rng.standard_normal((2, 3, *size))
        cols = OPS["im2col"].eval(x, **attrs)
        assert cols.shape == tuple(OPS["im2col"].infer(irgrad.tensor(x), **attrs).shape)
        y = rng.standard_normal(cols.shape)
        back = OPS["col2im"].eval(y, shape=x.shape, **attrs)
        assert np.isclose((cols * y).sum(), (x * back).sum())


@pytest.mark.parametrize("kernel,stride,dilation", WINDOW_CASES)
def test_im2col_layouts_hold_the_same_windows(kernel, stride, dilation):
    """'cols' is 'rows' transposed, and matches PyTorch's unfold element order."""
    x = rng.standard_normal((2, 3, 9, 8))
    rows = OPS["im2col"].eval(x, kernel=kernel, stride=stride, dilation=dilation)
    cols = OPS["im2col"].eval(x, kernel=kernel, stride=stride, dilation=dilation, layout="cols")
    np.testing.assert_array_equal(rows.transpose(0, 2, 1), cols)


def test_max_pool2d_ties_after_relu_match_torch():
    """ReLU outputs have all-zero windows; each must send its gradient to its first zero."""
    torch = pytest.importorskip("torch")
    x = _rand(2, 4, 12, 10)
    for args in [(2,), (3, 1), (3, 2, 1), (2, 1, 0, 2)]:
        _compare(
            lambda t, a=args: F.max_pool2d(F.relu(t - 0.5), *a),
            lambda t, a=args: torch.nn.functional.max_pool2d(torch.relu(t - 0.5), *a),
            [x],
        )


def test_max_pool2d_propagates_nan_and_inf_like_torch():
    torch = pytest.importorskip("torch")
    x = _rand(1, 2, 6, 6)
    x[0, 0, 0, 1], x[0, 0, 3, 3], x[0, 1, 2, 2], x[0, 1, 4, 5] = np.nan, np.inf, -np.inf, np.nan
    ours = F.max_pool2d(irgrad.tensor(x), 3, 2, 1, return_indices=True)
    theirs = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())
    np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())


def _random_pool_geometry(gen):
    """A random valid max_pool2d call: (input array, kernel, stride, padding, dilation, ceil_mode).

    Inputs are small integers, so windows tie often, and a fifth of them hold NaNs
    (several per window at times: PyTorch sends the gradient to the last one)."""
    while True:
        kernel = tuple(int(v) for v in gen.integers(1, 4, 2))
        dilation = tuple(int(v) for v in gen.integers(1, 3, 2))
        padding = tuple(int(gen.integers(0, k // 2 + 1)) for k in kernel)
        size = gen.integers(3, 9, 2)
        if all(d * (k - 1) + 1 <= s + 2 * p for d, k, s, p in zip(dilation, kernel, size, padding)):
            break
    stride = tuple(int(v) for v in gen.integers(1, 4, 2))
    x = gen.integers(-3, 3, (int(gen.integers(1, 3)), int(gen.integers(1, 3)), *size)).astype(np.float32)
    if gen.random() < 0.2:
        x[gen.random(x.shape) < 0.25] = np.nan
    return x, kernel, stride, padding, dilation, bool(gen.integers(0, 2))


@pytest.mark.parametrize("seed", range(4))
def test_max_pool2d_random_geometry_matches_torch(seed):
    """Values, return_indices and gradients for random geometry, ties, NaNs and
    non-finite incoming gradients."""
    torch = pytest.importorskip("torch")
    gen = np.random.default_rng(seed)
    for _ in range(25):
        x, *args, ceil_mode = _random_pool_geometry(gen)
        xt = torch.tensor(x, requires_grad=True)
        try:
            out_t, idx_t = torch.nn.functional.max_pool2d(xt, *args, ceil_mode=ceil_mode, return_indices=True)
        except RuntimeError:
            with pytest.raises(RuntimeError):
                F.max_pool2d(irgrad.tensor(x), *args, ceil_mode=ceil_mode)
            continue
        xi = irgrad.tensor(x, requires_grad=True)
        out_i, idx_i = F.max_pool2d(xi, *args, ceil_mode=ceil_mode, return_indices=True)
        np.testing.assert_array_equal(out_i.detach().numpy(), out_t.detach().numpy())
        np.testing.assert_array_equal(idx_i.numpy(), idx_t.numpy())
        g = gen.standard_normal(tuple(out_t.shape)).astype(np.float32)
        if gen.random() < 0.2:  # a non-finite gradient lands only where the maxima are
            g[gen.random(g.shape) < 0.3] = gen.choice([np.inf, -np.inf, np.nan])
        out_t.backward(torch.tensor(g))
        out_i.backward(irgrad.tensor(g))
        np.testing.assert_allclose(xi.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_max_pool2d_double_backward():
    """The gradient of max_pool2d's gradient (with respect to the incoming gradient)."""
    x = irgrad.tensor(rng.permutation(60).reshape(1, 2, 5, 6) * 0.3, dtype=irgrad.float64, requires_grad=True)
    for args in [(2,), (3, 1, 1), (2, 1, 0, 2)]:
        assert irgrad.autograd.gradgradcheck(lambda t, a=args: F.max_pool2d(t, *a), (x,))


def test_conv2d_output_is_contiguous_nchw():
    out = F.conv2d(irgrad.randn(2, 3, 7, 6), irgrad.randn(4, 3, 3, 3), irgrad.randn(4), padding=1)
    assert out.is_contiguous() and tuple(out.shape) == (2, 4, 7, 6)
    assert tuple(out.view(2, -1).shape) == (2, 4 * 7 * 6)


def test_conv_and_pool_gradcheck_float64():
    x = irgrad.tensor(_rand(1, 2, 5, 6, dtype=np.float64), requires_grad=True)
    w = irgrad.tensor(_rand(3, 2, 3, 2, dtype=np.float64), requires_grad=True)
    b = irgrad.tensor(_rand(3, dtype=np.float64), requires_grad=True)
    assert irgrad.autograd.gradcheck(lambda x, w, b: F.conv2d(x, w, b, 2, 1, (1, 2)), (x, w, b))
    wt = irgrad.tensor(_rand(2, 3, 3, 3, dtype=np.float64), requires_grad=True)
    assert irgrad.autograd.gradcheck(lambda x, w: F.conv_transpose2d(x, w, None, 2, 1, 1), (x, wt))
    assert irgrad.autograd.gradcheck(lambda x: F.max_pool2d(x, 2, 1, 1), (x,))
    assert irgrad.autograd.gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, True, False), (x,))
    assert irgrad.autograd.gradcheck(lambda x: F.adaptive_avg_pool2d(x, (2, 4)), (x,))


def test_conv_errors_name_the_shapes():
    with pytest.raises(RuntimeError, match=r"conv2d.*\[2, 3, 8, 8\]"):
        F.conv2d(irgrad.randn(2, 3, 8, 8), irgrad.randn(4, 2, 3, 3))
    with pytest.raises(RuntimeError, match="divisible by groups"):
        F.conv2d(irgrad.randn(2, 4, 8, 8), irgrad.randn(6, 1, 3, 3), groups=4)
    with pytest.raises(RuntimeError, match="im2col"):
        F.conv2d(irgrad.randn(1, 1, 2, 2), irgrad.randn(1, 1, 3, 3))


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.Conv2d(3, 6, 3, stride=2, padding=1, groups=3),
        lambda m: m.Conv2d(3, 4, (3, 2), padding="same", dilation=2, bias=False),
        lambda m: m.Conv1d(3, 4, 3, padding=1),
        lambda m: m.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
        lambda m: m.ConvTranspose1d(3, 4, 3, stride=2),
    ],
)
def test_conv_modules_match_torch(make):
    torch = pytest.importorskip("torch")
    ours, theirs = make(nn), make(torch.nn)
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()]
    for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert tuple(p.shape) == tuple(q.shape)
    ours.load_state_dict({k: irgrad.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    assert repr(ours) == repr(theirs).replace("torch", "irgrad")
    shape = (2, 3, 7) if isinstance(theirs, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)) else (2, 3, 7, 6)
    x = _rand(*shape)
    np.testing.assert_allclose(
        ours(irgrad.tensor(x)).detach().numpy(),
        theirs(torch.tensor(x)).detach().numpy(),
        rtol=1e-4,
        atol=1e-5,
    )


def test_conv_init_bounds_follow_torch():
    """kaiming_uniform_(a=sqrt(5)) gives weights within 1/sqrt(fan_in), as does the bias."""
    conv = nn.Conv2d(4, 8, 3)
    bound = 1 / np.sqrt(4 * 9)
    assert np.abs(conv.weight.detach().numpy()).max() <= bound + 1e-7
    assert np.abs(conv.bias.detach().numpy()).max() <= bound + 1e-7
    assert conv.weight.detach().numpy().std() > bound / 3


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.MaxPool2d(3, 2, 1, ceil_mode=True),
        lambda m: m.AvgPool2d(2),
        lambda m: m.AdaptiveAvgPool2d((3, 2)),
        lambda m: m.AdaptiveMaxPool2d(2),
        lambda m: m.MaxPool1d(2),
        lambda m: m.AvgPool1d(3, 2, 1),
        lambda m: m.AdaptiveAvgPool1d(3),
    ],
)
def test_pool_modules_match_torch(make):
    torch = pytest.importorskip("torch")
    ours, theirs = make(nn), make(torch.nn)
    one_d = "1d" in type(theirs).__name__
    x = _rand(2, 3, 9) if one_d else _rand(2, 3, 9, 10)
    np.testing.assert_allclose(
        ours(irgrad.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6
    )
    assert repr(ours) == repr(theirs)


def test_unbatched_unfold_and_fold_match_torch():
    """(C, H, W) unfolds to (C*kh*kw, L) and folds back, values and gradients as torch."""
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    _compare(
        lambda t: F.unfold(t, (2, 3), padding=1), lambda t: tf.unfold(t, (2, 3), padding=1), [_rand(2, 5, 4)]
    )
    _compare(lambda t: F.fold(t, (4, 4), 2), lambda t: tf.fold(t, (4, 4), 2), [_rand(8, 9)])
