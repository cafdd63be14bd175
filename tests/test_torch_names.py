"""The plain PyTorch names scripts call (global settings, top-level aliases of
functionals, ``*_copy`` ops, Tensor attributes and real-tensor complex methods),
compared with PyTorch: values, dtypes, float64 gradients and errors."""

import warnings

import numpy as np
import pytest

import irgrad

torch = pytest.importorskip("torch")


def _pair(shape, seed=0, grad=True):
    data = np.random.default_rng(seed).standard_normal(shape)
    return (
        irgrad.tensor(data, dtype=irgrad.float64, requires_grad=grad),
        torch.tensor(data, dtype=torch.float64, requires_grad=grad),
    )


def _same(a, b, atol=1e-10):
    if isinstance(b, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y, atol)
        return
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=atol, equal_nan=True)


def _check_grad(fn_irgrad, fn_torch, *shapes):
    ours = [_pair(s, seed=i) for i, s in enumerate(shapes)]
    a = fn_irgrad(*[o[0] for o in ours])
    b = fn_torch(*[o[1] for o in ours])
    _same(a, b)
    outs_a = a if isinstance(a, (tuple, list)) else [a]
    outs_b = b if isinstance(b, (tuple, list)) else [b]
    sum(o.sum() for o in outs_a).backward()
    sum(o.sum() for o in outs_b).backward()
    for x, y in ours:
        _same(
            x.grad if x.grad is not None else irgrad.zeros_like(x),
            y.grad if y.grad is not None else torch.zeros_like(y),
        )


def _errors_alike(fn_irgrad, fn_torch):
    with pytest.raises(Exception) as theirs:
        fn_torch()
    with pytest.raises(type(theirs.value)) as ours:
        fn_irgrad()
    assert str(ours.value).strip() == str(theirs.value).strip()


# --- global settings ------------------------------------------------------------------


def test_matmul_precision():
    try:
        for p in ("high", "medium", "highest"):
            irgrad.set_float32_matmul_precision(p)
            assert irgrad.get_float32_matmul_precision() == p
        with pytest.warns(UserWarning, match="is not one of"):
            irgrad.set_float32_matmul_precision("bad")
        assert irgrad.get_float32_matmul_precision() == "highest"
        _errors_alike(
            lambda: irgrad.set_float32_matmul_precision(1), lambda: torch.set_float32_matmul_precision(1)
        )
    finally:
        irgrad.set_float32_matmul_precision("highest")


def test_deterministic_modes():
    try:
        for mode in ("warn", "error", "default", 1, 2, 0):
            irgrad.set_deterministic_debug_mode(mode)
            torch.set_deterministic_debug_mode(mode)
            assert irgrad.get_deterministic_debug_mode() == torch.get_deterministic_debug_mode()
            assert (
                irgrad.are_deterministic_algorithms_enabled() == torch.are_deterministic_algorithms_enabled()
            )
            assert (
                irgrad.is_deterministic_algorithms_warn_only_enabled()
                == torch.is_deterministic_algorithms_warn_only_enabled()
            )
        irgrad.use_deterministic_algorithms(True, warn_only=True)
        assert irgrad.get_deterministic_debug_mode() == 1
        for bad in ("bad", 5, 1.5):
            _errors_alike(
                lambda b=bad: irgrad.set_deterministic_debug_mode(b),
                lambda b=bad: torch.set_deterministic_debug_mode(b),
            )
        _errors_alike(
            lambda: irgrad.use_deterministic_algorithms(1), lambda: torch.use_deterministic_algorithms(1)
        )
    finally:
        irgrad.use_deterministic_algorithms(False)
        torch.use_deterministic_algorithms(False)


def test_default_device_and_threads_and_flags():
    for d in ("cpu", irgrad.device("cpu"), None):
        irgrad.set_default_device(d)
        assert irgrad.get_default_device() == irgrad.device("cpu")
    with pytest.raises(RuntimeError, match="only the cpu device"):
        irgrad.set_default_device("cuda")
    assert irgrad.get_num_interop_threads() >= 1
    irgrad.set_num_interop_threads(2)
    assert irgrad.get_num_interop_threads() == 2
    with pytest.raises(RuntimeError, match="set_num_interop_threads expects a positive integer"):
        irgrad.set_num_interop_threads(0)
    assert irgrad.set_flush_denormal(True) is False
    _errors_alike(lambda: irgrad.set_flush_denormal(1), lambda: torch.set_flush_denormal(1))
    try:
        irgrad.set_anomaly_enabled(True)
        assert irgrad.is_anomaly_enabled() and irgrad.is_anomaly_check_nan_enabled()
        irgrad.set_warn_always(True)
        assert irgrad.is_warn_always_enabled()
    finally:
        irgrad.set_anomaly_enabled(False)
        irgrad.set_warn_always(False)
    assert not irgrad.is_anomaly_enabled() and not irgrad.is_warn_always_enabled()
    _errors_alike(lambda: irgrad.set_warn_always(1), lambda: torch.set_warn_always(1))


def test_default_tensor_type():
    try:
        for t in ("DoubleTensor", "FloatTensor"):
            with pytest.warns(UserWarning, match="set_default_tensor_type\\(\\) is deprecated"):
                irgrad.set_default_tensor_type(getattr(irgrad, t))
            torch.set_default_tensor_type(getattr(torch, t))
            assert (
                str(irgrad.get_default_dtype()).split(".")[-1]
                == str(torch.get_default_dtype()).split(".")[-1]
            )
            assert irgrad.tensor([1.5]).dtype == getattr(
                irgrad, "float64" if t == "DoubleTensor" else "float32"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            irgrad.set_default_tensor_type("torch.DoubleTensor")
            assert irgrad.get_default_dtype() is irgrad.float64
            for bad in (lambda m: m.LongTensor, lambda m: "torch.cuda.FloatTensor"):
                _errors_alike(
                    lambda b=bad: irgrad.set_default_tensor_type(b(irgrad)),
                    lambda b=bad: torch.set_default_tensor_type(b(torch)),
                )
    finally:
        irgrad.set_default_dtype(irgrad.float32)
        torch.set_default_dtype(torch.float32)


def test_typename_is_storage_range():
    assert irgrad.typename(irgrad.zeros(2)) == torch.typename(torch.zeros(2))
    assert irgrad.typename(irgrad.zeros(2, dtype=irgrad.int64)) == "torch.LongTensor"
    assert irgrad.typename(3) == torch.typename(3) == "int"
    assert irgrad.typename(irgrad.nn.Linear(1, 1)).endswith("Linear")
    assert irgrad.is_storage(irgrad.zeros(2)) is False
    for args, kwargs in [((0, 3), {}), ((0, 1, 0.25), {}), ((0, 3), {"dtype": "int64"}), ((3, 0, -1), {})]:
        kw_i = {k: getattr(irgrad, v) for k, v in kwargs.items()}
        kw_t = {k: getattr(torch, v) for k, v in kwargs.items()}
        with pytest.warns(UserWarning, match="torch.range is deprecated"):
            ours = irgrad.range(*args, **kw_i)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _same(ours, torch.range(*args, **kw_t))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _errors_alike(lambda: irgrad.range(0, 3, 0), lambda: torch.range(0, 3, 0))
        _errors_alike(lambda: irgrad.range(3, 0), lambda: torch.range(3, 0))


# --- top-level aliases of functionals ----------------------------------------------


@pytest.mark.parametrize("reduction", [0, 1, 2])
def test_loss_aliases(reduction):
    tgt = np.sign(np.random.default_rng(5).standard_normal(6))
    _check_grad(
        lambda a, b: irgrad.margin_ranking_loss(a, b, irgrad.tensor(tgt), 0.1, reduction),
        lambda a, b: torch.margin_ranking_loss(a, b, torch.tensor(tgt), 0.1, reduction),
        (6,),
        (6,),
    )
    _check_grad(
        lambda a, b: irgrad.cosine_embedding_loss(a, b, irgrad.tensor(tgt[:3]), 0.2, reduction),
        lambda a, b: torch.cosine_embedding_loss(a, b, torch.tensor(tgt[:3]), 0.2, reduction),
        (3, 4),
        (3, 4),
    )
    _check_grad(
        lambda a: irgrad.hinge_embedding_loss(a, irgrad.tensor(tgt), 0.5, reduction),
        lambda a: torch.hinge_embedding_loss(a, torch.tensor(tgt), 0.5, reduction),
        (6,),
    )
    _check_grad(
        lambda a, b: irgrad.kl_div(a, b, reduction, log_target=True),
        lambda a, b: torch.kl_div(a, b, reduction, log_target=True),
        (3, 4),
        (3, 4),
    )
    _check_grad(
        lambda a, b: irgrad.poisson_nll_loss(a, b.abs(), True, True, 1e-8, reduction),
        lambda a, b: torch.poisson_nll_loss(a, b.abs(), True, True, 1e-8, reduction),
        (5,),
        (5,),
    )
    _check_grad(
        lambda a, p, n: irgrad.triplet_margin_loss(a, p, n, 1.0, 2.0, 1e-6, True, reduction),
        lambda a, p, n: torch.triplet_margin_loss(a, p, n, 1.0, 2.0, 1e-6, True, reduction),
        (3, 4),
        (3, 4),
        (3, 4),
    )
    _check_grad(
        lambda a, t, w: irgrad.binary_cross_entropy_with_logits(
            a, t.sigmoid(), None, w.detach().abs(), reduction
        ),
        lambda a, t, w: torch.binary_cross_entropy_with_logits(
            a, t.sigmoid(), None, w.detach().abs(), reduction
        ),
        (3, 4),
        (3, 4),
        (4,),
    )


def test_ctc_loss_alias():
    log_probs, t_log_probs = _pair((6, 2, 4))
    targets = [[1, 2], [3, 1]]
    ours = irgrad.ctc_loss(log_probs.log_softmax(2), irgrad.tensor(targets), [6, 5], [2, 2], 0, 2, False)
    theirs = torch.ctc_loss(t_log_probs.log_softmax(2), torch.tensor(targets), [6, 5], [2, 2], 0, 2, False)
    _same(ours, theirs)
    ours.backward()
    theirs.backward()
    _same(log_probs.grad, t_log_probs.grad)


def test_norm_and_embedding_aliases():
    _check_grad(
        lambda x, w, b: irgrad.batch_norm(x, w, b, None, None, True, 0.1, 1e-5, False),
        lambda x, w, b: torch.batch_norm(x, w, b, None, None, True, 0.1, 1e-5, False),
        (4, 3, 2),
        (3,),
        (3,),
    )
    _check_grad(
        lambda x, w, b: irgrad.instance_norm(x, w, b, None, None, True, 0.1, 1e-5, False),
        lambda x, w, b: torch.instance_norm(x, w, b, None, None, True, 0.1, 1e-5, False),
        (2, 3, 5),
        (3,),
        (3,),
    )
    idx = [[0, 2], [4, 2]]
    for padding_idx in (-1, 2):
        _check_grad(
            lambda w, p=padding_idx: irgrad.embedding(w, irgrad.tensor(idx), p),
            lambda w, p=padding_idx: torch.embedding(w, torch.tensor(idx), p),
            (5, 3),
        )
    _check_grad(
        lambda x: irgrad.constant_pad_nd(x, [1, 2, 0, 1], 0.5),
        lambda x: torch.constant_pad_nd(x, [1, 2, 0, 1], 0.5),
        (2, 3),
    )


@pytest.mark.parametrize("name", ["lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell"])
@pytest.mark.parametrize("bias", [True, False])
def test_cells(name, bias):
    gates = {"lstm_cell": 4, "gru_cell": 3}.get(name, 1)
    shapes = [(2, 3), (2, 4), (gates * 4, 3), (gates * 4, 4)] + ([(gates * 4,), (gates * 4,)] if bias else [])
    if name == "lstm_cell":
        shapes.insert(2, (2, 4))

        def call(module):
            def fn(x, h, c, *weights):
                return getattr(module, name)(x, [h, c], *weights)

            return fn
    else:

        def call(module):
            return lambda *args: getattr(module, name)(*args)

    _check_grad(call(irgrad), call(torch), *shapes)


def test_in_place_activations_and_dropouts():
    for name, args in [("celu_", (0.5,)), ("selu_", ()), ("threshold_", (0.1, -2.0)), ("rrelu_", (0.1, 0.3))]:
        x, t = _pair((3, 4), grad=False)
        assert getattr(irgrad, name)(x, *args) is x
        getattr(torch, name)(t, *args)
        _same(x, t)
    for name in ("dropout_", "alpha_dropout_", "feature_alpha_dropout_", "feature_dropout_"):
        x, t = _pair((3, 4), grad=False)
        assert getattr(irgrad, name)(x, 0.5, False) is x
        _same(x, t)
    x, _ = _pair((200, 50, 3), grad=False)
    dropped = irgrad.feature_dropout(x, 0.5, True)
    zero_features = (dropped == 0).all(dim=2)
    assert ((dropped == 0).any(dim=2) == zero_features).all()  # whole features
    assert 0.4 < zero_features.double().mean().item() < 0.6
    kept = ~zero_features
    np.testing.assert_allclose(dropped.numpy()[kept.numpy()], 2 * x.numpy()[kept.numpy()])
    _errors_alike(
        lambda: irgrad.feature_dropout(irgrad.ones(3), 0.5, True),
        lambda: torch.feature_dropout(torch.ones(3), 0.5, True),
    )


def test_pool_aliases():
    _check_grad(
        lambda x: irgrad.adaptive_max_pool1d(x, 3)[0], lambda x: torch.adaptive_max_pool1d(x, 3)[0], (2, 3, 7)
    )
    x, t = _pair((2, 3, 7))
    _same(irgrad.adaptive_max_pool1d(x, 3)[1], torch.adaptive_max_pool1d(t, 3)[1])
    for kwargs in ({}, {"stride": 1, "padding": 1}, {"stride": [], "ceil_mode": True}):
        _same(irgrad.max_pool1d_with_indices(x, 2, **kwargs), torch.max_pool1d_with_indices(t, 2, **kwargs))


def test_tensor_functions():
    x, t = _pair((3, 4))
    for name in ("is_signed", "is_inference", "get_device", "is_conj", "is_neg"):
        assert getattr(irgrad, name)(x) == getattr(torch, name)(t)
    assert irgrad.is_same_size(x, x) and not irgrad.is_same_size(x, x.t())
    v, tv = _pair(())
    _check_grad(lambda a, b: irgrad.fill(a, b), lambda a, b: torch.fill(a, b), (3,), ())
    _same(irgrad.fill(x, 2), torch.fill(t, 2))
    m, tm = _pair((3, 4), grad=False)
    irgrad.index_put_(m, (irgrad.tensor([0, 2]),), irgrad.tensor(1.0, dtype=irgrad.float64), accumulate=True)
    torch.index_put_(tm, (torch.tensor([0, 2]),), torch.tensor(1.0, dtype=torch.float64), accumulate=True)
    _same(m, tm)
    y, ty = _pair((3,), grad=False)
    vec, tvec = _pair((4,), seed=3, grad=False)
    irgrad.addmv_(y, m, vec, beta=0.5, alpha=2)
    torch.addmv_(ty, tm, tvec, beta=0.5, alpha=2)
    _same(y, ty)
    d = x * 2
    assert irgrad.detach_(d) is d and not d.requires_grad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check_grad(lambda a: irgrad.nuclear_norm(a), lambda a: torch.nuclear_norm(a), (3, 4))
        _check_grad(lambda a: irgrad.nuclear_norm(a, True), lambda a: torch.nuclear_norm(a, True), (3, 4))
        _check_grad(
            lambda a: irgrad.nuclear_norm(a, (1, 2)), lambda a: torch.nuclear_norm(a, (1, 2)), (2, 3, 4)
        )
        _check_grad(
            lambda a: irgrad.frobenius_norm(a, (0, 1)), lambda a: torch.frobenius_norm(a, (0, 1)), (3, 4)
        )
    with pytest.warns(UserWarning, match="at::nuclear_norm is deprecated"):
        irgrad.nuclear_norm(x)
    _errors_alike(lambda: irgrad.matrix_rank(x), lambda: torch.matrix_rank(t))


# --- *_copy ops ---------------------------------------------------------------------


COPIES = [
    ("permute_copy", ((2, 0, 1),)),
    ("transpose_copy", (0, 2)),
    ("unsqueeze_copy", (1,)),
    ("squeeze_copy", ()),
    ("squeeze_copy", (1,)),
    ("view_copy", ((4, -1),)),
    ("expand_copy", ((2, 2, 1, 3, 4),)),
    ("select_copy", (2, 1)),
    ("slice_copy", (2, 1, None, 2)),
    ("diagonal_copy", (1, 0, 2)),
    ("unbind_copy", (2,)),
    ("split_copy", (2, 2)),
    ("split_with_sizes_copy", ([1, 3], 2)),
    ("detach_copy", ()),
    ("unfold_copy", (2, 2, 1)),
    ("alias_copy", ()),
]


@pytest.mark.parametrize("name,args", COPIES)
def test_view_copies(name, args):
    shape = (2, 1, 3, 4) if name == "squeeze_copy" else (2, 3, 4)
    if name == "expand_copy":
        shape = (1, 3, 4)
    if name == "detach_copy":
        x, t = _pair(shape)
        _same(irgrad.detach_copy(x), torch.detach_copy(t))
        assert not irgrad.detach_copy(x).requires_grad
    else:
        _check_grad(
            lambda x: getattr(irgrad, name)(x, *args), lambda x: getattr(torch, name)(x, *args), shape
        )
    x = irgrad.zeros(shape)
    result = getattr(irgrad, name)(x, *args)
    for part in result if isinstance(result, tuple) else [result]:
        assert part.is_contiguous()
        part.add_(1.0)
    assert (x == 0).all()


def test_t_copy():
    _check_grad(lambda x: irgrad.t_copy(x), lambda x: torch.t_copy(x), (3, 4))


# --- random draws -------------------------------------------------------------------


def test_poisson_and_binomial_draws():
    rates = irgrad.full((20000,), 3.0, dtype=irgrad.float64)
    irgrad.manual_seed(7)
    a = irgrad.poisson(rates)
    irgrad.manual_seed(7)
    assert irgrad.equal(a, irgrad.poisson(rates))
    assert a.dtype is irgrad.float64
    assert abs(a.mean().item() - 3.0) < 0.1 and abs(a.var().item() - 3.0) < 0.2
    gen = irgrad.Generator().manual_seed(1)
    b = irgrad.binomial(irgrad.full((20000,), 10.0), irgrad.tensor([0.3]), generator=gen)
    assert irgrad.equal(
        b,
        irgrad.binomial(
            irgrad.full((20000,), 10.0), irgrad.tensor([0.3]), generator=irgrad.Generator().manual_seed(1)
        ),
    )
    assert abs(b.mean().item() - 3.0) < 0.1 and abs(b.var().item() - 2.1) < 0.15
    assert b.dtype is irgrad.float32 and ((b >= 0) & (b <= 10) & (b == b.round())).all()
    x = irgrad.tensor([1.0, 2.0], requires_grad=True)
    irgrad.poisson(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    for bad in (lambda m: m.poisson(m.tensor([-1.0])), lambda m: m.poisson(m.tensor([1, 2]))):
        _errors_alike(lambda b=bad: b(irgrad), lambda b=bad: b(torch))
    _errors_alike(
        lambda: irgrad.binomial(irgrad.tensor([1, 2]), irgrad.tensor([0.5])),
        lambda: torch.binomial(torch.tensor([1, 2]), torch.tensor([0.5])),
    )
    _errors_alike(
        lambda: irgrad.binomial(irgrad.tensor([1.0]), irgrad.tensor([0.5], dtype=irgrad.float64)),
        lambda: torch.binomial(torch.tensor([1.0]), torch.tensor([0.5], dtype=torch.float64)),
    )


# --- Tensor methods -----------------------------------------------------------------


def test_tensor_attributes():
    for dtype in ("float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"):
        x, t = (
            irgrad.zeros(2, 3, dtype=getattr(irgrad, dtype)),
            torch.zeros(2, 3, dtype=getattr(torch, dtype)),
        )
        assert (x.nbytes, x.itemsize, x.is_signed()) == (t.nbytes, t.itemsize, t.is_signed())
    x, t = _pair((4, 5))
    assert repr(x.layout) == repr(t.layout) == "torch.strided"
    assert x.is_cpu and not x.is_inference()
    assert x.is_same_size(x.clone()) and not x.is_same_size(x[1:])
    for index in [(slice(1, None), 2), (2,), (slice(None), slice(1, 4, 2))]:
        assert x[index].storage_offset() == t[index].storage_offset()
    assert x.storage_offset() == 0
    a, b = x.split(2)
    assert (x.output_nr, (x * 2).output_nr) == (t.output_nr, (t * 2).output_nr)
    _same(x.dist(x * 3, 1.5), t.dist(t * 3, 1.5))
    _check_grad(lambda x: x.hardshrink(0.3), lambda t: t.hardshrink(0.3), (4, 5))
    _check_grad(lambda x, w: x.prelu(w), lambda t, w: t.prelu(w), (2, 3, 4), (3,))
    _check_grad(lambda x: x.ravel(), lambda t: t.ravel(), (2, 3))
    _check_grad(lambda x: x.narrow_copy(1, 1, 2), lambda t: t.narrow_copy(1, 1, 2), (2, 3))
    _check_grad(lambda x: x.split_with_sizes([1, 2], 1), lambda t: t.split_with_sizes([1, 2], 1), (2, 3))


def test_resize_out_of_place():
    with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
        _check_grad(lambda x: x.resize(3, 2), lambda t: t.resize(3, 2), (2, 3))
    with pytest.warns(UserWarning, match="non-inplace resize_as is deprecated"):
        _check_grad(lambda x: x.resize_as(irgrad.zeros(6)), lambda t: t.resize_as(torch.zeros(6)), (2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _errors_alike(lambda: irgrad.zeros(2).resize(3), lambda: torch.zeros(2).resize(3))


def test_real_tensor_complex_methods():
    x, t = _pair((2, 3))
    assert x.real is x and x.conj() is x and x.resolve_conj() is x and x.resolve_neg() is x
    assert irgrad.real(x) is x and irgrad.conj(x) is x
    assert not x.is_conj() and not x.is_neg()
    _errors_alike(lambda: x.imag, lambda: t.imag)
    _errors_alike(lambda: irgrad.imag(x), lambda: torch.imag(t))
    _check_grad(lambda x: x.adjoint(), lambda t: t.adjoint(), (2, 3, 4))
    _check_grad(lambda x: irgrad.adjoint(x), lambda t: torch.adjoint(t), (3, 4))
    _errors_alike(lambda: irgrad.zeros(3).adjoint(), lambda: torch.zeros(3).adjoint())
    data = [1.0, -2.0, 0.0, -0.0, float("nan"), float("-inf"), float("inf")]
    xs, ts = irgrad.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    _same(xs.angle(), ts.angle())
    xs.angle().sum().backward()
    ts.angle().sum().backward()
    _same(xs.grad, ts.grad)
    for d in ("int64", "bool"):
        values = [1, -2, 0] if d == "int64" else [True, False]
        _same(
            irgrad.tensor(values, dtype=getattr(irgrad, d)).angle(),
            torch.tensor(values, dtype=getattr(torch, d)).angle(),
        )


def test_parameter_names_as_torchs():
    """``dot``'s second operand is ``tensor`` and ``swapaxes`` takes ``axis0``/``axis1``."""
    for lib in (irgrad, torch):
        x = lib.arange(3.0)
        assert float(lib.dot(x, tensor=x)) == 5.0 and float(x.dot(tensor=x)) == 5.0
        assert tuple(lib.swapaxes(lib.ones(2, 3), axis0=0, axis1=1).shape) == (3, 2)
        assert tuple(lib.ones(2, 3).swapaxes(axis0=1, axis1=0).shape) == (3, 2)
        with pytest.raises(TypeError):
            lib.dot(x, other=x)
