"""API that public training scripts call and irgrad lacked (issue 14): sorting and top-k,
multinomial sampling, pixel shuffling, dropout2d on 2-D input, DataParallel on one
device, torch.accelerator and torch.backends flags, the lazy infinite RandomSampler."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from graph_calls import assert_graphs_answered

import irgrad
from irgrad.utils.data import RandomSampler

ROWS = np.array([[1.0, 3.0, np.nan, 3.0, -1.0, 0.5], [0.0, 0.0, 2.0, -5.0, 4.0, 2.0]], dtype=np.float32)


DISTINCT = np.random.default_rng(3).permutation(24).reshape(4, 6).astype(np.float32) - 11.5


@pytest.mark.parametrize(
    "k,dim,largest", [(3, -1, True), (2, 1, False), (1, 0, True), (0, -1, True), (2, 1, True)]
)
def test_topk_matches_torch(compare, k, dim, largest):
    compare(lambda lib, x: lib.topk(x, k, dim=dim, largest=largest), DISTINCT)
    # with ties and NaN: the same values; among equal values irgrad takes the earlier
    # position first, where PyTorch's order is unspecified
    compare(lambda lib, x: lib.topk(x, k, dim=dim, largest=largest).values, ROWS, grad=False)
    values, indices = irgrad.topk(irgrad.tensor(ROWS), k, dim=dim, largest=largest)
    np.testing.assert_array_equal(np.take_along_axis(ROWS, indices.numpy(), axis=dim), values.numpy())


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1])
def test_sort_and_argsort_match_torch(compare, dim, descending):
    compare(lambda lib, x: x.sort(dim=dim, descending=descending, stable=True), ROWS)
    compare(lambda lib, x: lib.argsort(x, dim=dim, descending=descending, stable=True), ROWS, grad=False)


def test_topk_of_a_0d_tensor_and_out_of_range_k(compare):
    compare(lambda lib, x: lib.topk(x, 1), np.array(2.5, dtype=np.float32))
    with pytest.raises(RuntimeError, match="topk: selected index k out of range"):
        irgrad.topk(irgrad.ones(3), 4)


def test_compiled_topk_is_traced_as_an_op_not_a_constant(backend):
    compiled = irgrad.compile(lambda x: x.topk(2).values * 2, backend=backend)
    for seed in range(3):
        x = irgrad.tensor(np.random.default_rng(seed).standard_normal((4, 5)).astype(np.float32))
        np.testing.assert_array_equal(compiled(x).numpy(), (x.topk(2).values * 2).numpy())
    assert_graphs_answered(compiled)


def test_multinomial_draws_in_proportion_to_the_weights():
    irgrad.manual_seed(0)
    weights = irgrad.tensor([0.1, 0.0, 0.6, 0.3])
    draws = irgrad.multinomial(weights, 40000, replacement=True).numpy()
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / draws.size, [0.1, 0.0, 0.6, 0.3], atol=0.01)
    firsts = np.array([weights.multinomial(1).item() for _ in range(4000)])
    np.testing.assert_allclose(
        np.bincount(firsts, minlength=4) / firsts.size, [0.1, 0.0, 0.6, 0.3], atol=0.025
    )


def test_multinomial_without_replacement_takes_each_category_once():
    irgrad.manual_seed(1)
    rows = irgrad.tensor([[1.0, 0.0, 2.0, 3.0], [0.0, 5.0, 0.0, 1.0]])
    for _ in range(50):
        picked = irgrad.multinomial(rows, 2).numpy()
        assert picked.shape == (2, 2) and picked.dtype == np.int64
        assert all(len(set(row)) == 2 for row in picked)
        assert 1 not in picked[0] and set(picked[1]) == {1, 3}  # zero weights are never drawn


@pytest.mark.parametrize(
    "weights,n,replacement,message",
    [
        ([0.5, 0.0, 0.5], 3, False, "not enough non-negative category"),
        ([0.0, 0.0], 1, True, "sum of probabilities <= 0"),
        ([1.0, -1.0], 1, True, "element < 0"),
        ([1.0, 2.0], 3, False, "n_sample > prob_dist.size"),
        ([1.0, -1.0], 0, True, "^cannot sample n_sample <= 0 samples$"),  # PyTorch's, checked first
    ],
)
def test_multinomial_rejects_bad_distributions(weights, n, replacement, message):
    with pytest.raises(RuntimeError, match=message):
        irgrad.multinomial(irgrad.tensor(weights), n, replacement)


def test_multinomial_in_a_compiled_function_breaks_the_graph_and_stays_right():
    compiled = irgrad.compile(lambda w: irgrad.multinomial(w, 3, replacement=True) + 1)
    irgrad.manual_seed(5)
    got = compiled(irgrad.tensor([0.2, 0.8]))
    irgrad.manual_seed(5)
    np.testing.assert_array_equal(
        got.numpy(), (irgrad.multinomial(irgrad.tensor([0.2, 0.8]), 3, True) + 1).numpy()
    )
    assert compiled.explain().graph_break_count == 1


@pytest.mark.parametrize("shape,r", [((1, 8, 3, 2), 2), ((2, 3, 9, 2, 2), 3), ((18, 1, 1), 3)])
def test_pixel_shuffle_and_unshuffle_match_torch(compare, shape, r):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    compare(lambda lib, t: lib.nn.PixelShuffle(r)(t), x)
    shuffled = x.reshape(*shape[:-3], shape[-3] // (r * r), shape[-2] * r, shape[-1] * r)
    compare(lambda lib, t: lib.nn.functional.pixel_unshuffle(t, r), shuffled)


def test_pixel_shuffle_checks_its_channels():
    with pytest.raises(RuntimeError, match="divisible"):
        irgrad.nn.functional.pixel_shuffle(irgrad.ones(1, 3, 2, 2), 2)
    assert repr(irgrad.nn.PixelShuffle(3)) == "PixelShuffle(upscale_factor=3)"


def test_dropout2d_on_a_2d_input_warns_and_drops_elements():
    irgrad.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = irgrad.nn.Dropout2d(0.5)(irgrad.ones(40, 50)).numpy()
    assert any("Received a 2-D input to dropout2d" in str(w.message) for w in caught)
    assert set(np.unique(out)) == {0.0, 2.0}
    assert 0 < (out == 0).sum(axis=1).min() and (out == 0).sum(axis=1).max() < 50  # not whole rows


def test_data_parallel_on_one_device_is_the_module():
    inner = irgrad.nn.Linear(3, 2)
    model = irgrad.nn.parallel.DataParallel(inner)
    assert model.module is inner and list(model.state_dict()) == ["module.weight", "module.bias"]
    x = irgrad.randn(4, 3)
    np.testing.assert_array_equal(model(x).detach().numpy(), inner(x).detach().numpy())


def test_accelerator_and_backend_flags_say_cpu():
    assert irgrad.accelerator.is_available() is False and irgrad.accelerator.current_accelerator() is None
    assert irgrad.accelerator.device_count() == 0
    assert irgrad.backends.cudnn.is_available() is False and irgrad.backends.mps.is_available() is False
    irgrad.backends.cudnn.benchmark = True
    assert irgrad.backends.cudnn.benchmark is True
    irgrad.backends.cudnn.benchmark = False
    x = irgrad.zeros(1)
    assert (x.is_cuda, x.is_xpu, x.is_mps) == (False, False, False)


def test_an_infinite_random_sampler_draws_lazily():
    sampler = RandomSampler(range(10), replacement=True, num_samples=10**10)
    first = list(itertools.islice(iter(sampler), 100))
    assert len(first) == 100 and all(0 <= i < 10 for i in first) and len(sampler) == 10**10


def test_post_accumulate_grad_hooks_fire_as_soon_as_a_gradient_is_final():
    """backward() gives a leaf its gradient when the last edge into it has run (as
    PyTorch's AccumulateGrad), so the last layer's hook sees the first layer still waiting:
    what lets DistributedDataParallel overlap its allreduce with the rest of the backward."""
    model = irgrad.nn.Sequential(irgrad.nn.Linear(3, 4), irgrad.nn.Tanh(), irgrad.nn.Linear(4, 2))
    first, last = model[0].weight, model[2].weight
    seen = []
    last.register_post_accumulate_grad_hook(
        lambda p: seen.append(("last", first.grad is None, p.grad is not None))
    )
    handle = first.register_post_accumulate_grad_hook(lambda p: seen.append(("first", p.grad is not None)))
    model(irgrad.randn(5, 3)).sum().backward()
    assert seen == [("last", True, True), ("first", True)]
    handle.remove()
    model(irgrad.randn(5, 3)).sum().backward()
    assert seen[-1][0] == "last"
    with pytest.raises(RuntimeError, match="non-leaf"):
        (first * 2).register_post_accumulate_grad_hook(lambda p: None)


@pytest.mark.parametrize("k,dim,keepdim", [(1, -1, False), (3, 1, True), (2, 0, False)])
def test_kthvalue_matches_torch(compare, k, dim, keepdim):
    compare(lambda lib, x: lib.kthvalue(x, k, dim=dim, keepdim=keepdim), DISTINCT)


@pytest.mark.parametrize("n,dim", [(1, -1), (2, 0), (3, 1)])
def test_diff_matches_torch(compare, n, dim):
    compare(lambda lib, x: lib.diff(x, n=n, dim=dim), DISTINCT)
    compare(lambda lib, x: lib.diff(x, dim=1, prepend=x[:, :1] * 2, append=x[:, -1:]), DISTINCT)
    compare(lambda lib, x: lib.diff(x > 0, dim=1), DISTINCT, grad=False)


def test_repeat_interleave_matches_torch(compare):
    compare(lambda lib, x: lib.repeat_interleave(x, 2), DISTINCT)
    compare(lambda lib, x: x.repeat_interleave(3, dim=0), DISTINCT)
    compare(lambda lib, x: lib.repeat_interleave(x, lib.tensor([1, 0, 2, 1]), dim=0), DISTINCT)
    compare(lambda lib, x: lib.repeat_interleave(lib.tensor([2, 0, 3])), None, grad=False)


def test_bincount_matches_torch(compare):
    ids = np.array([0, 3, 3, 1, 7, 3], dtype=np.int64)
    compare(lambda lib, i: lib.bincount(i), ids, grad=False)
    compare(lambda lib, i: lib.bincount(i, minlength=10), ids, grad=False)
    compare(lambda lib, i: lib.bincount(i, weights=lib.arange(6, dtype=lib.float32)), ids, grad=False)
    with pytest.raises(RuntimeError, match="non-negative"):
        irgrad.bincount(irgrad.tensor([1, -1]))


@pytest.mark.parametrize("n,chunks", [(0, 3), (4, 3), (5, 3), (7, 2), (1, 4)])
def test_chunk_gives_pytorchs_pieces(compare, n, chunks):
    compare(lambda lib, x: lib.chunk(x, chunks, dim=0), np.zeros((n, 2), np.float32))


def test_integer_pow_with_negative_exponents_matches_torch(compare):
    base = np.array([2, 3, 1, -1, -1, 0, 5], dtype=np.int64)
    exponent = np.array([-1, 2, -3, -3, -2, -1, 0], dtype=np.int64)
    compare(lambda lib, a, b: lib.pow(a, b), base, exponent, grad=False)


def test_mT_of_a_0d_tensor_warns_and_is_the_identity():
    with pytest.warns(UserWarning, match="deprecated on 0-D"):
        assert irgrad.tensor(2.0).mT.item() == 2.0


def test_unique_matches_torch(compare):
    x = np.array([[3, 1, 2], [3, 1, 5]], dtype=np.int64)
    compare(lambda lib, t: lib.unique(t), x, grad=False)
    compare(lambda lib, t: lib.unique(t, return_inverse=True, return_counts=True), x, grad=False)
    compare(lambda lib, t: t.unique(dim=1, return_counts=True), x, grad=False)
    compare(lambda lib, t: lib.unique(t, dim=0, return_inverse=True), x, grad=False)


@pytest.mark.parametrize("dtype", [irgrad.bool, irgrad.int32, irgrad.float64])
def test_triu_and_tril_keep_their_input_dtype(dtype):
    """A causal mask ``triu(ones(T, T, dtype=bool), 1)`` must stay bool (attention refuses
    an int64 mask), as in PyTorch."""
    ones = irgrad.ones(3, 3, dtype=dtype)
    for result in (irgrad.triu(ones, diagonal=1), irgrad.tril(ones)):
        assert result.dtype == dtype
    np.testing.assert_array_equal(
        irgrad.triu(ones, diagonal=1).numpy(), np.triu(np.ones((3, 3)), 1).astype(dtype.np)
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_argtopk_is_the_sort_orders_prefix(dtype):
    # the partition path (k < n / 4) against the full stable sort, ties and NaN included
    from irgrad.ops.selection import argsort, argtopk

    rng = np.random.default_rng(7)
    for _ in range(200):
        shape = tuple(rng.integers(1, 4, rng.integers(0, 3)))
        dim = int(rng.integers(0, len(shape) + 1))
        n = int(rng.integers(8, 90))
        x = rng.integers(-3, 4, shape[:dim] + (n,) + shape[dim:]).astype(dtype)
        if x.dtype.kind == "f":
            x[rng.random(x.shape) < rng.random()] = np.nan
        for largest in (True, False):
            for k in (0, 1, 2, n // 5):
                want = np.take(argsort(x, dim=dim, descending=largest), np.arange(k), axis=dim)
                np.testing.assert_array_equal(argtopk(x, dim=dim, k=k, largest=largest), want)


def test_topk_over_a_large_vocabulary_matches_torch(compare):
    logits = np.random.default_rng(8).standard_normal((4, 50257)).astype(np.float32)
    compare(lambda lib, x: lib.topk(x, 10, dim=-1), logits)
    compare(lambda lib, x: lib.topk(x, 3, dim=0, largest=False), logits[:, :1000])


@pytest.mark.parametrize("beta, alpha", [(0, 1), (0, 2.5), (0.5, 1), (1, -1)])
def test_addmm_ignores_its_input_at_beta_zero_as_torch(compare, beta, alpha):
    """``addmm`` with ``beta=0`` ignores ``input``: its NaN and inf do not reach the result
    (0 * NaN would), and its gradient is zeros."""
    rng = np.random.default_rng(0)
    c = rng.standard_normal((2, 4)).astype(np.float32)
    c[0, 1], c[1, 2] = np.nan, np.inf
    a, b = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)
    if beta != 0:
        c = np.nan_to_num(c, posinf=2.0)
    compare(lambda lib, x, y, z: lib.addmm(x, y, z, beta=beta, alpha=alpha), c, a, b)


def test_type_as_and_the_math_constants_match_torch():
    torch = pytest.importorskip("torch")
    for lib in (irgrad, torch):
        x = lib.ones(2, requires_grad=True)
        assert x.type_as(x) is x
        y = x.type_as(lib.zeros(1, dtype=lib.float64))
        assert str(y.dtype).endswith("float64") and y.requires_grad
        y.sum().backward()
        assert str(x.grad.dtype).endswith("float32")
        assert str(x.type_as(lib.zeros(1, dtype=lib.int64)).dtype).endswith("int64")
    with pytest.raises(
        TypeError, match=r"type_as\(\): argument 'other' \(position 1\) must be Tensor, not int"
    ):
        irgrad.ones(2).type_as(3)
    assert (irgrad.pi, irgrad.e, irgrad.inf) == (torch.pi, torch.e, torch.inf) and irgrad.nan != irgrad.nan
