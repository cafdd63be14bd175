"""Eager edge cases random programs found against PyTorch (issue 14): each fixed by its
mechanism (how ``alpha`` is cast, the degenerate variance, views that may not be written in
place, arguments a function is not differentiable in, ...), checked here against torch, or
by finite differences where torch is not the judge."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import irgrad

RNG = np.random.default_rng(14)
X = RNG.standard_normal((3, 4)).astype(np.float32)


def _both(fn):
    """``fn(lib)`` for irgrad and torch: (irgrad's result or exception, torch's)."""
    torch = pytest.importorskip("torch")
    results = []
    for lib in (irgrad, torch):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                results.append(fn(lib))
        except Exception as error:  # noqa: BLE001 - the exception is the result compared
            results.append(error)
    return results


def _same_error(fn, match: str | None = None) -> None:
    mine, theirs = _both(fn)
    assert isinstance(theirs, Exception), "torch runs this: the test is wrong"
    assert isinstance(mine, type(theirs)), f"irgrad gave {mine!r}, torch raised {theirs!r}"
    if match:
        assert match in str(mine) and match in str(theirs)


# --- alpha is cast to the result type --------------------------------------------------


@pytest.mark.parametrize("op", ["add", "sub"])
@pytest.mark.parametrize("alpha", [2, 0, True, -1, 2.5, 1.0])
@pytest.mark.parametrize(
    "kinds", [("bool", "bool"), ("int64", "bool"), ("int64", "int64"), ("float32", "int64")]
)
def test_alpha_takes_the_result_type(compare, op, alpha, kinds):
    a = RNG.integers(0, 2, 5).astype(kinds[0])
    b = RNG.integers(0, 2, 5).astype(kinds[1])
    if op == "sub" and "bool" in kinds:
        _same_error(lambda lib: lib.sub(lib.tensor(a), lib.tensor(b), alpha=alpha))
    elif isinstance(alpha, bool) and kinds != ("bool", "bool"):
        _same_error(lambda lib: getattr(lib, op)(lib.tensor(a), lib.tensor(b), alpha=alpha), "Boolean alpha")
    elif isinstance(alpha, float) and kinds[0] != "float32":
        _same_error(lambda lib: getattr(lib, op)(lib.tensor(a), lib.tensor(b), alpha=alpha), "alpha")
    else:
        compare(lambda lib, x, y: getattr(lib, op)(x, y, alpha=alpha), a, b)
        compare(lambda lib, x, y: getattr(x.clone(), op + "_")(y, alpha=alpha), a, b)


# --- variance with no degrees of freedom -------------------------------------------------


@pytest.mark.parametrize("fn", ["var", "std"])
@pytest.mark.parametrize("correction", [2, 3, 5])
@pytest.mark.parametrize("dim", [-1, 0, None])
def test_variance_without_degrees_of_freedom_matches_torch(compare, fn, correction, dim):
    # +-inf (dof 0), torch's finite 2 (x - mean) / dof (dof < 0), NaN for a constant row
    x = np.array([[1.0, 2.0], [3.0, 5.0], [4.0, 4.0]], dtype=np.float32)
    compare(lambda lib, t: getattr(t, fn)(dim=dim, correction=correction), x)


def test_variance_without_degrees_of_freedom_warns():
    with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
        irgrad.tensor([1.0, 2.0]).var(correction=2)


def test_var_over_no_dims_has_the_right_gradient_where_torch_has_not():
    # var(dim=()) reduces every element; PyTorch 2.13's gradient for it is wrong (its own
    # gradcheck fails), so finite differences are the judge
    x = irgrad.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    for correction in (0, 1):
        assert irgrad.autograd.gradcheck(lambda t, c=correction: t.var(dim=(), correction=c), (x,))
        assert irgrad.autograd.gradcheck(lambda t, c=correction: t.std(dim=(), correction=c), (x,))


# --- small crashes --------------------------------------------------------------------


@pytest.mark.parametrize("dims", [0, -1, (), (0,)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp_of_a_0d_tensor(compare, dims, keepdim):
    compare(lambda lib, t: lib.logsumexp(t, dims, keepdim=keepdim), np.array(1.5, dtype=np.float32))


@pytest.mark.parametrize("exponent", [-1, -2])
def test_integer_tensor_to_a_negative_integer_power_is_an_error(exponent):
    _same_error(lambda lib: lib.pow(lib.tensor([1, 2, -1]), exponent), "negative integer powers")
    _same_error(lambda lib: lib.tensor([1, 2]) ** exponent, "negative integer powers")


def test_integer_tensor_to_negative_tensor_exponents(compare):
    base = np.array([1, 2, -1, 3, -1], dtype=np.int64)
    compare(lambda lib, b, e: lib.pow(b, e), base, np.array([-1, -1, -3, 2, -2], dtype=np.int64))
    compare(lambda lib, b: b**2.5, base.astype(np.float32))
    compare(lambda lib, b: lib.pow(b, -1), np.array([2.0, -4.0], dtype=np.float32))


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.view(),
        lambda t: t.reshape(),
        lambda t: t.permute(),
        lambda t: t.expand(),
        lambda t: t.repeat(),
    ],
)
def test_shape_methods_without_sizes_are_type_errors(call):
    _same_error(lambda lib: call(lib.ones(1)))


def test_shape_methods_with_an_empty_tuple(compare):
    compare(lambda lib, t: (t.view(()), t.reshape(()), t.permute(())), np.array(2.0, np.float32))


@pytest.mark.parametrize("size", [2, 3, (5, 3), (None, 2), 1])
def test_adaptive_avg_pool_result_is_contiguous_as_torchs(compare, size):
    x = RNG.standard_normal((2, 3, 5, 5)).astype(np.float32)
    compare(lambda lib, t: lib.nn.functional.adaptive_avg_pool2d(t.permute(0, 2, 3, 1), size).view(-1), x)


# --- views that may not be written in place --------------------------------------------


MULTI_OUTPUT = [
    ("chunk", lambda y: y.chunk(2)[0]),
    ("split", lambda y: y.split(1, 1)[1]),
    ("split_with_sizes", lambda y: y.split([1, 3])[1]),
    ("unbind", lambda y: y.unbind(0)[1]),
    ("single chunk", lambda y: y.chunk(1)[0]),
    ("view of a chunk", lambda y: y.chunk(2)[0][0]),
]


@pytest.mark.parametrize("pick", [p for _, p in MULTI_OUTPUT], ids=[n for n, _ in MULTI_OUTPUT])
@pytest.mark.parametrize("leaf", [True, False])
def test_outputs_of_multi_output_views_may_not_be_written_in_place(pick, leaf):
    def write(lib):
        x = lib.ones(4, 2, requires_grad=True)
        y = x if leaf else x * 1
        pick(y).mul_(2)

    _same_error(write, "is the output of a function that returns multiple views")


def test_multi_output_views_may_be_written_without_autograd():
    for lib_fn in (
        lambda: irgrad.ones(4, 2).chunk(2)[0].mul_(2),  # nothing requires grad
        lambda: irgrad.ones(4, 2, requires_grad=True).mul(1).tensor_split(2)[1].add_(2),  # allowed
        lambda: irgrad.ones(4, 2, requires_grad=True).mul(1).chunk(2)[0].detach().mul_(2),
    ):
        lib_fn()
    y = irgrad.ones(4, 2, requires_grad=True) * 1
    with irgrad.no_grad():
        y.chunk(2)[0].mul_(2)
    np.testing.assert_array_equal(y.detach().numpy()[:2], 2.0)


def test_a_multi_output_view_written_with_a_source_that_requires_grad():
    _same_error(
        lambda lib: lib.ones(4, 2).chunk(2)[0].add_(lib.ones(2, 2, requires_grad=True)),
        "returns multiple views",
    )


@pytest.mark.parametrize("leaf", [True, False])
def test_a_view_made_in_no_grad_mode_may_not_be_written_with_grad_mode_on(leaf):
    def write(lib):
        x = lib.ones(4, 2, requires_grad=True)
        y = x if leaf else x * 1
        with lib.no_grad():
            v = y[0:2]
        v.mul_(2)

    _same_error(write, "A view was created in no_grad mode")


def test_a_view_made_in_no_grad_mode_of_a_tensor_without_grad_may_be_written():
    z = irgrad.ones(3)
    with irgrad.no_grad():
        v = z[0:2]
    v.mul_(2)
    np.testing.assert_array_equal(z.numpy(), [2.0, 2.0, 1.0])


@pytest.mark.parametrize(
    "write",
    [
        lambda lib, x: x.reshape(2, 0).fill_(-2),
        lambda lib, x: x[:0].zero_(),
        lambda lib, x: x.permute(1, 0).masked_fill_(lib.ones(1, dtype=lib.bool), 1.0),
    ],
)
def test_empty_views_of_a_leaf_are_views(write):
    _same_error(lambda lib: write(lib, lib.ones(0, 2, requires_grad=True)), "leaf Variable")


# --- arguments a function is not differentiable in --------------------------------------


LOGITS = RNG.standard_normal((4, 3)).astype(np.float32)
PROBS = RNG.uniform(0.1, 0.9, (4, 3)).astype(np.float32)
NOT_DIFFERENTIABLE = [
    ("nll_loss weight", lambda lib, g: lib.nn.functional.nll_loss(LOG(lib), TGT(lib), weight=g(3))),
    ("cross_entropy weight", lambda lib, g: lib.nn.functional.cross_entropy(LOG(lib), TGT(lib), weight=g(3))),
    (
        "cross_entropy label smoothing weight",
        lambda lib, g: lib.nn.functional.cross_entropy(LOG(lib), TGT(lib), weight=g(3), label_smoothing=0.1),
    ),
    (
        "nll_loss2d weight",
        lambda lib, g: lib.nn.functional.nll_loss(
            lib.zeros(2, 3, 2, 2, requires_grad=True), lib.zeros(2, 2, 2, dtype=lib.int64), weight=g(3)
        ),
    ),
    (
        "binary_cross_entropy weight",
        lambda lib, g: lib.nn.functional.binary_cross_entropy(P(lib), lib.tensor(PROBS), weight=g(4, 3)),
    ),
    (
        "bce_with_logits pos_weight",
        lambda lib, g: lib.nn.functional.binary_cross_entropy_with_logits(
            LOG(lib), lib.tensor(PROBS), pos_weight=g(3)
        ),
    ),
    (
        "bce_with_logits weight",
        lambda lib, g: lib.nn.functional.binary_cross_entropy_with_logits(
            LOG(lib), lib.tensor(PROBS), weight=g(4, 3)
        ),
    ),
    ("soft_margin_loss target", lambda lib, g: lib.nn.functional.soft_margin_loss(LOG(lib), g(4, 3))),
    (
        "multi_margin_loss weight",
        lambda lib, g: lib.nn.functional.multi_margin_loss(LOG(lib), TGT(lib), weight=g(3)),
    ),
    (
        "batch_norm running stats",
        lambda lib, g: lib.nn.functional.batch_norm(LOG(lib), g(3), lib.ones(3), training=True),
    ),
    (
        "batch_norm running stats in eval",
        lambda lib, g: lib.nn.functional.batch_norm(LOG(lib).detach(), lib.zeros(3), g(3), training=False),
    ),
]


def LOG(lib):
    return lib.tensor(LOGITS, requires_grad=True)


def P(lib):
    return lib.tensor(PROBS, requires_grad=True)


def TGT(lib):
    return lib.tensor([0, 1, 2, 1])


@pytest.mark.parametrize("call", [c for _, c in NOT_DIFFERENTIABLE], ids=[n for n, _ in NOT_DIFFERENTIABLE])
def test_arguments_a_function_is_not_differentiable_in_may_not_require_grad(call):
    def run(lib):
        return call(lib, lambda *shape: lib.rand(*shape, requires_grad=True))

    _same_error(run, "is not differentiable with respect to argument")
    with irgrad.no_grad():  # no autograd, no objection (as torch)
        run(irgrad)
    call(irgrad, lambda *shape: irgrad.rand(*shape))


def test_cross_entropy_with_probability_targets_takes_a_weight_that_requires_grad(compare):
    compare(
        lambda lib, x, p, w: lib.nn.functional.cross_entropy(x, p, weight=w),
        LOGITS,
        PROBS,
        np.ones(3, np.float32),
    )


def test_attention_over_an_empty_embedding_is_uniform(compare):
    q, k = np.ones((2, 3, 0), np.float32), np.ones((2, 4, 0), np.float32)
    v = RNG.standard_normal((2, 4, 5)).astype(np.float32)
    compare(lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(q, k, v), q, k, v)


@pytest.mark.parametrize(
    "norm",
    [
        lambda lib, x, w: lib.nn.functional.group_norm(x, 2, w),
        lambda lib, x, w: lib.nn.functional.batch_norm(x, lib.zeros(4), lib.ones(4), w, training=True),
        lambda lib, x, w: lib.nn.functional.batch_norm(x, lib.zeros(4), lib.ones(4), w, training=False),
        lambda lib, x, w: lib.nn.functional.layer_norm(x, (3,), w[:3]),
        lambda lib, x, w: lib.nn.functional.instance_norm(x, weight=w),
    ],
)
def test_normalizations_of_an_empty_batch(compare, norm):
    x, w = np.ones((0, 4, 3), np.float32), np.ones(4, np.float32)
    if norm.__code__.co_names[-1] == "instance_norm":  # torch's own kernel fails on it
        y = norm(irgrad, irgrad.tensor(x, requires_grad=True), weight := irgrad.ones(4, requires_grad=True))
        y.sum().backward()
        assert y.shape == (0, 4, 3) and weight.grad.tolist() == [0.0] * 4
    else:
        compare(norm, x, w)


@pytest.mark.parametrize("norm", ["group_norm", "batch_norm", "instance_norm"])
def test_normalizations_over_no_elements_give_the_weight_a_zero_gradient(norm):
    # the result is empty, so nothing depends on the weight: 0 (PyTorch's group_norm formula
    # gives NaN here, from 0 * the NaN statistics of empty groups)
    x = irgrad.ones(2, 4, 0, requires_grad=True)
    w, b = irgrad.ones(4, requires_grad=True), irgrad.ones(4, requires_grad=True)
    F = irgrad.nn.functional
    y = {
        "group_norm": lambda: F.group_norm(x, 2, w, b),
        "batch_norm": lambda: F.batch_norm(x, irgrad.zeros(4), irgrad.ones(4), w, b, training=True),
        "instance_norm": lambda: F.instance_norm(x, weight=w, bias=b),
    }[norm]()
    y.sum().backward()
    assert y.shape == (2, 4, 0)
    assert w.grad.tolist() == b.grad.tolist() == [0.0] * 4


def test_batch_norm_of_an_empty_batch_keeps_the_running_statistics():
    mean, var = irgrad.zeros(3), irgrad.ones(3)
    irgrad.nn.functional.batch_norm(irgrad.ones(0, 3), mean, var, training=True)
    np.testing.assert_array_equal(mean.numpy(), 0.0)
    np.testing.assert_array_equal(var.numpy(), 1.0)


def test_batch_norm_of_an_empty_batch_returns_a_new_tensor():
    # it returned its input (no weight or bias): writing into the result raised for a
    # leaf that requires grad (PyTorch runs it) and would have changed the input (fuzzer)
    x = irgrad.zeros(0, 1, requires_grad=True)
    y = irgrad.nn.functional.batch_norm(x, None, None, training=True)
    assert y is not x and y.grad_fn is not None
    y.mul_(2)
    y.sum().backward()
    assert x.grad.shape == (0, 1)


NAN_ROWS = np.array([[1.0, np.nan, 3.0, np.nan], [2.0, 5.0, 5.0, -1.0], [0.0, 0.0, 0.0, 0.0]], np.float32)


@pytest.mark.parametrize(
    "reduce",
    [
        lambda lib, x: x.max(),
        lambda lib, x: x.min(),
        lambda lib, x: x[1:].max(),
        lambda lib, x: x.amax(),
        lambda lib, x: x.amax(1),
        lambda lib, x: x.amin(0),
        lambda lib, x: x[1:].amax(1) * float("nan"),  # a NaN gradient reaching the reduction
        lambda lib, x: x[1:].max() * float("nan"),
        lambda lib, x: x.max(1).values,
    ],
)
def test_extremum_gradients_follow_torchs_two_rules(compare, reduce):
    compare(reduce, NAN_ROWS)


def test_compiled_extremum_gradients_equal_eager():
    from irgrad.testing.differential import check_compiled

    def f(x):
        return x.max() + x.amax(1).sum() + x.min()

    check_compiled(f, [[NAN_ROWS[1:]], [NAN_ROWS]], backend="llvm", train=True)


def test_softshrink_keeps_the_sign_of_zero(compare):
    x = np.array([-0.25, 0.25, -0.0, 0.0, -0.5, 0.5, -0.7, 0.9, np.nan, -np.inf], np.float32)
    compare(lambda lib, t: 1.0 / lib.nn.functional.softshrink(t, 0.5), x, grad=False)
    compare(lambda lib, t: lib.nn.functional.softshrink(t, 0.5), x)


def test_a_number_divided_by_a_tensor_rounds_as_torchs(compare):
    # PyTorch computes ``c / t`` as ``reciprocal(t) * c``: the last bit differs from ``c / t``
    values = np.random.default_rng(1).uniform(0.1, 3.0, 1000).astype(np.float32)
    compare(lambda lib, t: 0.7 / t, values, rtol=0, atol=0)
    compare(lambda lib, t: 3 / t, np.array([2, 4, -3], np.int64), rtol=0, atol=0)


@pytest.mark.parametrize(
    "shape,reps", [((3,), (1, 1)), ((3,), (1,)), ((0,), (2,)), ((2, 0), (1, 1)), ((2,), (3,))]
)
def test_repeat_and_tile_make_a_new_tensor(shape, reps):
    x = irgrad.ones(shape)
    for made in (x.repeat(*reps), irgrad.tile(x, reps)):
        made += 1  # never writes into x
        assert made._base is None
    np.testing.assert_array_equal(x.numpy(), np.ones(shape))
    leaf = irgrad.ones(shape, requires_grad=True)
    irgrad.tile(leaf, reps).add_(1)  # not a view of the leaf: allowed, as in PyTorch


@pytest.mark.parametrize("value", [0.5, 2, -1.5, 1])
@pytest.mark.parametrize("dtype", [np.int64, np.float32])
def test_addcmul_casts_value_to_the_result_type(compare, value, dtype):
    a = np.array([1, 2, -3], dtype)
    compare(lambda lib, x, y, z: lib.addcmul(x, y, z, value=value), a, a + 1, a - 1)
    compare(lambda lib, x, y, z: x.clone().addcmul_(y, z, value=value), a, a + 1, a - 1)


def test_addcdiv_of_integers_is_an_error():
    _same_error(
        lambda lib: lib.addcdiv(lib.ones(2), lib.tensor([1, 2]), lib.tensor([2, 2])), "Integer division"
    )


def test_batch_norm_of_an_empty_batch_takes_running_statistics_that_require_grad(compare):
    stats = np.zeros(3), np.ones(3)
    compare(
        lambda lib, x, m, v: lib.nn.functional.batch_norm(x, m, v, training=True, momentum=0.2),
        np.ones((0, 3, 5)),
        *stats,
    )


def test_an_empty_slice_of_a_broadcast_view_may_be_written(compare):
    compare(
        lambda lib, x: lib.narrow(x.reshape(1, 4, 1).expand(1, 4, 2), 2, 0, 0).clone().zero_(),
        np.ones((4, 1)),
    )
    view = irgrad.narrow(irgrad.ones(4, 1).reshape(1, 4, 1).expand(1, 4, 2), 2, 0, 0)
    assert view.zero_().shape == (1, 4, 0)
    _same_error(lambda lib: lib.ones(4, 1).expand(4, 2).add_(1), "single memory location")


@pytest.mark.parametrize("shape", [(1,), (1, 1), (2, 1)])
def test_an_expanded_tensor_whose_elements_are_each_one_memory_location_may_be_updated(compare, shape):
    # a 0-d or single-column tensor expanded along new size-1 dims: no element repeats
    def run(lib, x):
        base = x.clone()
        view = base.expand(*shape) if base.ndim == 0 else base.reshape(2, 1).expand(*shape)
        view += lib.ones(shape, dtype=base.dtype) * 3
        view.mul_(2)
        return base

    compare(run, np.array(1.5) if shape != (2, 1) else np.array([1.5, -2.0]), grad=False)


def test_an_expanded_tensor_is_assigned_where_no_element_repeats(compare):
    # one element of an expanded 0-d tensor, and an empty slice of an expanded tensor (found
    # by the fuzzer); assigning to repeated elements raises, a value for all of them too
    def one_element(lib, x):
        base = x.clone()
        view = base.expand(3)
        view[-3] = -2.5
        return base * 1.0

    def empty_slice(lib, x):
        view = x.clone().expand(-1, 3, -1)
        view[:-1, :, 1:1:2] = 0.0
        return view * 1.0

    compare(one_element, np.array(1.5), grad=False)
    compare(empty_slice, np.ones((1, 1, 1)), grad=False)
    for value in (5.0, [1.0, 2.0, 3.0]):

        def repeated(lib, value=value):
            view = lib.zeros(1).expand(3)
            view[:] = value if isinstance(value, float) else lib.tensor(value)

        _same_error(repeated, "single memory location")


@pytest.mark.parametrize(
    "write",
    [
        lambda lib, v: v.masked_fill_(lib.tensor([[True, False, False], [False, False, True]]), -0.0),
        lambda lib, v: v.masked_fill_(lib.tensor([[False, False, False], [False, False, False]]), 2.0),
        lambda lib, v: v.index_fill_(1, lib.tensor([1]), 3.0),
        lambda lib, v: v.__setitem__(lib.tensor([[False, True, False], [False, True, True]]), 5.0),
        lambda lib, v: v.__setitem__((lib.tensor([0, 1]), lib.tensor([0, 2])), lib.tensor([1.0, 2.0])),
        lambda lib, v: v.index_put_((lib.tensor([1]), lib.tensor([2])), lib.tensor(7.0)),
    ],
)
def test_selective_writes_into_an_expanded_tensor_write_its_memory(write):
    # PyTorch's masked_fill_, index_fill_ and index_put_ write the positions they select
    # into an expanded tensor (deprecated, with a warning); irgrad raised the internal
    # overlap error (and x[mask] = v numpy's "assignment destination is read-only").
    # Found by the fuzzer, seed 66001 program 189
    def run(lib):
        base = lib.ones(1, 3)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            write(lib, base.expand(2, 3))
        assert any("on expanded tensors is deprecated" in str(w.message) for w in caught)
        return base.numpy().copy()

    mine, theirs = _both(run)
    np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(np.signbit(mine), np.signbit(theirs))


@pytest.mark.parametrize("base_requires_grad", [True, False])
@pytest.mark.parametrize(
    "write",
    [
        lambda lib, v, w: v.masked_fill_(lib.tensor([[True, False, True], [False, False, True]]), w[0] * 2),
        lambda lib, v, w: v.masked_fill_(lib.tensor([[False, False, False], [False, False, False]]), w[1]),
        lambda lib, v, w: v.index_fill_(1, lib.tensor([1]), 3.0),
        lambda lib, v, w: v.__setitem__((lib.tensor([0, 1]), lib.tensor([0, 2])), w[1:] * 3),
        lambda lib, v, w: v.index_put_((lib.tensor([1]), lib.tensor([2])), w[2]),
    ],
)
def test_selective_writes_into_an_expanded_tensor_while_autograd_records_them(write, base_requires_grad):
    # PyTorch writes them (deprecated) and records CopySlices: backward raises where the
    # gradient must reach the base's old value, and otherwise gives each written value its
    # position's gradient. irgrad raised the internal-overlap error at the write (the
    # fuzzer's unfold generator found it)
    def run(lib):
        x = lib.tensor([[1.5], [-2.0]], requires_grad=True)
        w = lib.tensor([0.5, -1.0, 4.0], requires_grad=True)
        base = x * 2 if base_requires_grad else lib.ones(2, 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            write(lib, base.expand(2, 3), w)
        value = base.detach().numpy().copy()
        (base * lib.tensor([[7.0], [11.0]])).sum().backward()
        return value, None if w.grad is None else w.grad.numpy().copy()

    mine, theirs = _both(run)
    if isinstance(theirs, Exception):
        assert isinstance(mine, RuntimeError), mine
        assert (
            str(theirs) in str(mine)
            or "single memory location" in str(mine)
            and "single memory location" in str(theirs)
        )
        return
    assert not isinstance(mine, Exception), mine
    np.testing.assert_array_equal(mine[0], theirs[0])
    if theirs[1] is None:
        assert mine[1] is None or not mine[1].any()
    else:
        np.testing.assert_array_equal(mine[1], theirs[1])


def test_an_element_of_an_expanded_tensor_is_assigned_while_autograd_records_it(compare):
    # the recorded write covers the indexed element only: its whole new value would write
    # the one memory location of the expanded 0-d tensor three times, the last one winning
    def one_element(lib, x, w):
        view = (x * 1).expand(3)
        view[1] = w * 2
        return view * lib.tensor([1.0, 2.0, 3.0])

    compare(one_element, np.array(1.5), np.array(-0.5))
    _same_error(
        lambda lib: lib.tensor(1.0, requires_grad=True).mul(1).expand(3).__setitem__(slice(0, 2), 5.0),
        "single memory location",
    )


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_a_compiled_assignment_to_an_element_of_an_expanded_tensor_equals_eager(backend):
    # the traced write covered the whole expanded tensor and raised (found by the fuzzer)
    from irgrad.testing.differential import check_compiled

    def element(x):
        view = x.expand(3)
        view[-2::3] = 0.0
        return view

    def with_grad(x, w):
        view = (x * 1).expand(3)
        view[1] = w * 2
        return view * irgrad.tensor([1.0, 2.0, 3.0])

    def empty(x):  # numpy gives an empty array zero strides: no element repeats in it
        x[-1] = -2.5
        return x * 2

    def empty_recorded(x):
        y = x * 1
        y[...] = irgrad.ones(1)
        return y * 2

    check_compiled(element, [[np.array(2.0, np.float32)], [np.array(-1.0, np.float32)]], backend=backend)
    check_compiled(empty, [[np.zeros((1, 2, 0), np.float32)]], backend=backend)
    check_compiled(empty_recorded, [[np.zeros((0, 1, 2), np.float32)]], backend=backend, train=True)
    calls = [[np.array(1.5), np.array(-0.5)], [np.array(2.0), np.array(3.0)]]
    check_compiled(with_grad, calls, backend=backend, train=True)


def test_a_roll_that_moves_nothing_is_a_new_tensor(compare):
    # it returned its input: writing the result wrote the input, and an unbind output
    # rolled by 0 could not be written at all (found by the fuzzer)
    def written(lib, x):
        base = x.clone()
        for rolled in (base.roll(0), base.roll(3, 1), lib.roll(base, (0, 6), (0, 1)), base[:, 0].roll(0)):
            rolled.add_(1)
        return base

    compare(written, np.arange(6.0).reshape(2, 3), grad=False)
    compare(lambda lib, x: lib.roll(lib.unbind(x * 1, 2)[0], 0).exp_(), np.zeros((1, 3, 1, 1)))


@pytest.mark.parametrize("op", ["remainder", "floor_divide", "fmod"])
def test_an_integer_division_with_an_empty_result_divides_nothing(compare, op):
    # a zero divisor raises only where an element is divided (found by the fuzzer)
    zeros = np.zeros((1, 1, 1), np.int64)
    compare(lambda lib, a, b: getattr(lib, op)(a, b), np.zeros((0,), np.int64), zeros, grad=False)
    compare(lambda lib, a, b: getattr(lib, op)(a, b), np.zeros((2, 0), np.int64), zeros[0], grad=False)
    _same_error(
        lambda lib: getattr(lib, op)(lib.ones(2, dtype=lib.int64), lib.tensor([0, 1])), "ZeroDivisionError"
    )
    from irgrad.testing.differential import check_compiled

    check_compiled(
        lambda a, b: getattr(irgrad, op)(a, b), [[np.zeros((0,), np.int64), zeros]], backend="llvm"
    )


@pytest.mark.parametrize(
    "op",
    [
        lambda x: x.logsumexp(-2),
        lambda x: x.sum(-2),
        lambda x: x.amax(-2),
        lambda x: x.mean(-2),
        lambda x: x.prod(1),
        lambda x: x.softmax(-1),
        lambda x: x.log_softmax(1),
        lambda x: x.cumsum(-1),
        lambda x: x.exp(),  # an elementwise result keeps the input's order, as in PyTorch
    ],
)
def test_reductions_and_running_sums_of_a_permuted_tensor_are_laid_out_as_pytorchs(op):
    # numpy's kept the permuted order: .view of a logsumexp failed (found by the fuzzer)
    mine, theirs = _both(lambda lib: tuple(op(lib.zeros(2, 3, 5, 1).movedim(1, -1)).stride()))
    assert mine == theirs


def test_a_view_of_a_reduction_of_a_permuted_tensor(compare):
    compare(lambda lib, x: lib.movedim(x, 1, -1).logsumexp(-2).view(1, 15, -1), np.zeros((2, 3, 5, 1)))


@pytest.mark.parametrize(
    "call",
    [
        lambda lib, x: lib.nn.functional.layer_norm(x, (5,), lib.ones(1)),
        lambda lib, x: lib.nn.functional.layer_norm(x, (5,), lib.ones(5), lib.ones(1)),
        lambda lib, x: lib.nn.functional.rms_norm(x, (5,), lib.ones(1)),
        lambda lib, x: lib.nn.functional.group_norm(x.reshape(2, 5, 1), 5, lib.ones(1)),
        lambda lib, x: lib.nn.functional.group_norm(x.reshape(2, 5, 1), 5, None, lib.ones(5, 1)),
    ],
)
def test_a_norms_weight_of_another_shape_is_an_error(call):
    # a [1] weight broadcast silently where PyTorch raises (found by the fuzzer)
    _same_error(lambda lib: call(lib, lib.zeros(2, 5)), "Expected")


def test_an_advanced_index_result_is_contiguous_as_pytorchs(compare):
    # numpy lays x[:, i] out index dims first: a .view() of it failed (found by the fuzzer)
    compare(lambda lib, x: x[:, lib.tensor([0, 0, 0])].view(1, 9, -1), np.arange(9.0).reshape(3, 1, 3))


@pytest.mark.parametrize("fill", [lambda v: v.zero_(), lambda v: v.fill_(2.5), lambda v: v.fill_(-1)])
def test_an_expanded_tensor_may_be_filled(compare, fill):
    # one value for every element: the aliased elements agree, so PyTorch allows it
    def run(lib, x):
        base = x.clone()
        fill(base[:, :1].expand(3, 4))
        return base

    compare(run, np.arange(6.0).reshape(3, 2), grad=False)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [None, 1])
def test_argmax_and_argmin_refuse_bool_but_max_over_a_dim_does_not(name, dim, compare):
    # irgrad returned a position where PyTorch raises (found by the probe)
    _same_error(
        lambda lib: getattr(lib.tensor([[True, False, True]]), name)(dim=dim), "does not support bool"
    )
    extremum = "max" if name == "argmax" else "min"
    compare(lambda lib, x: getattr(x > 1, extremum)(dim=1)[1], np.array([[0.0, 2.0, 3.0]]), grad=False)
