"""Error parity with PyTorch: misuse that PyTorch rejects is rejected by irgrad, as clearly.

Each case is a function of ``lib`` (``irgrad`` or ``torch``) that misuses the API. It is run
on both libraries, and:

1. both must raise;
2. irgrad's exception must be an instance of the builtin class PyTorch's exception derives
   from (``torch.OutOfMemoryError`` and friends compare as ``RuntimeError``, ``pickle``'s
   errors as ``Exception``);
3. irgrad's message must be its own, not a numpy or Python internal error leaking through;
   where the case is about shapes it must name one of the offending shapes (as ``(2, 3)``,
   ``[2, 3]`` or ``2x3``); where the case gives a ``names`` pattern it must match it (the
   op called or the real problem, where irgrad's message names an internal op, such as
   ``add`` for a batch norm, or a different problem).

Cases where PyTorch's behaviour is arguably worse, or irgrad differs on purpose
(``docs/pytorch-differences.md``), are strict xfails that give the reason; so are
irgrad's open defects (``OPEN_DEFECTS``), until they are fixed.
"""

from __future__ import annotations

import builtins
import os
import re
import tempfile
import warnings

import pytest

import irgrad

torch = pytest.importorskip("torch")

# Fragments of numpy's and Python's own messages: an irgrad error containing one (that
# PyTorch's message does not) leaked from inside the implementation instead of being
# checked and reported.
RAW_MARKERS = (
    "operands could not be broadcast",
    "numpy",
    "ndarray",
    "object has no attribute",
    "unhashable",
    "NoneType",
    "axis",
    "inhomogeneous shape",
    "negative dimensions are not allowed",
    "Number of samples",
    "values to unpack",
)


def _F(lib):
    return lib.nn.functional


def _leaf(lib, *shape):
    return lib.ones(*shape, requires_grad=True)


def _backward_twice(lib):
    x = _leaf(lib, 3)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _inplace_on_leaf(lib):
    x = _leaf(lib, 3)
    x.add_(1.0)


def _setitem_on_leaf(lib):
    x = _leaf(lib, 3)
    x[0] = 2.0


def _setitem_out_of_range(lib):
    x = lib.zeros(3)
    x[5] = 1.0


def _load_garbage(lib):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "garbage.pt")
        with open(path, "wb") as f:
            f.write(b"\x00\x01not a checkpoint\xff" * 8)
        lib.load(path)


def _load_state_dict(lib, state):
    lib.nn.Linear(3, 2).load_state_dict(state(lib))


def _lstm_bad_h0(lib):
    lstm = lib.nn.LSTM(3, 4)
    h0 = lib.zeros(1, 3, 4)
    lstm(lib.ones(5, 2, 3), (h0, h0))


def _dataloader(lib, **kwargs):
    data = lib.utils.data.TensorDataset(lib.arange(6.0))
    return lib.utils.data.DataLoader(data, **kwargs)


OPEN_DEFECTS: dict[str, str] = {}


def case(id, call, *shapes, names=None, xfail=None):
    """One misuse: ``call(lib)`` must raise, with a message that names one of ``shapes``
    and matches the regular expression ``names`` (case-insensitive)."""
    xfail = xfail or OPEN_DEFECTS.get(id)
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(call, shapes, names, id=id, marks=marks)


CASES = [
    # --- elementwise broadcasting -----------------------------------------------------
    case("add-broadcast", lambda L: L.ones(2, 3) + L.ones(4), (2, 3), (4,)),
    case("mul-broadcast", lambda L: L.ones(2, 3) * L.ones(2, 4), (2, 3), (2, 4)),
    case("where-broadcast", lambda L: L.where(L.ones(2) > 0, L.ones(3), L.ones(3)), (2,), (3,)),
    case("where-float-condition", lambda L: L.where(L.ones(3), L.ones(3), L.zeros(3))),
    case("add_-output-shape", lambda L: L.ones(3).add_(L.ones(2, 3)), (3,), (2, 3)),
    case("expand-mismatch", lambda L: L.ones(3).expand(4), (3,), (4,)),
    case(
        "masked_fill-mask-shape",
        lambda L: L.ones(3).masked_fill(L.ones(4) > 0, 0.0),
        (3,),
        (4,),
        names=r"masked_fill",
    ),
    case("lerp-int-end", lambda L: L.lerp(L.ones(3), L.ones(3, dtype=L.int64), 0.5)),
    case("floor_divide-int-zero", lambda L: L.tensor([7]) // L.tensor([0])),
    case("remainder-int-zero", lambda L: L.tensor([7]) % L.tensor([0])),
    case(
        "div-trunc-int-zero",
        lambda L: L.div(L.tensor([7, 8]), 0, rounding_mode="trunc"),
        names="ZeroDivision",
    ),
    case(
        "div-trunc-int-tensor-zero",
        lambda L: L.div(L.tensor([7, 8]), L.tensor([2, 0]), rounding_mode="trunc"),
        names="ZeroDivision",
    ),
    # --- matmul family ----------------------------------------------------------------
    case("matmul-inner-dims", lambda L: L.ones(2, 3) @ L.ones(4, 5), (2, 3), (4, 5)),
    case("matmul-1d-1d", lambda L: L.matmul(L.ones(3), L.ones(4)), (3,), (4,)),
    case("matmul-0d", lambda L: L.matmul(L.tensor(1.0), L.ones(3))),
    case("matmul-list", lambda L: L.ones(3) @ [1.0, 2.0, 3.0]),
    case("matmul-method-list", lambda L: L.ones(3).matmul([1.0, 2.0, 3.0]), names=r"matmul"),
    case("relu-list", lambda L: L.nn.functional.relu([1.0, -1.0]), names=r"relu.*list"),
    case("sum-tuple", lambda L: L.sum((1.0, 2.0)), names=r"sum.*tuple"),
    case("cat-list-element", lambda L: L.cat([L.ones(2), [1.0]]), names=r"element 1"),
    case("stack-int-element", lambda L: L.stack([L.ones(2), 3]), names=r"element 1"),
    case(
        "cross_entropy-list-input",
        lambda L: L.nn.functional.cross_entropy([[1.0, 2.0]], L.tensor([0])),
        names=r"cross_entropy.*list",
    ),
    case(
        "conv2d-list-weight", lambda L: L.nn.functional.conv2d(L.ones(1, 1, 3, 3), [[1.0]]), names=r"weight"
    ),
    case("mm-inner-dims", lambda L: L.mm(L.ones(2, 3), L.ones(2, 3)), (2, 3)),
    case("mm-3d", lambda L: L.mm(L.ones(2, 3, 4), L.ones(4, 5)), (2, 3, 4)),
    case("bmm-batch", lambda L: L.bmm(L.ones(2, 3, 4), L.ones(3, 4, 5)), (2, 3, 4), (3, 4, 5)),
    case("bmm-2d", lambda L: L.bmm(L.ones(3, 4), L.ones(4, 5)), (3, 4)),
    case("dot-lengths", lambda L: L.dot(L.ones(3), L.ones(4))),
    case("outer-2d", lambda L: L.outer(L.ones(2, 2), L.ones(2))),
    case("linear-in-features", lambda L: _F(L).linear(L.ones(2, 3), L.ones(5, 4)), (2, 3), (5, 4)),
    case("matmul-f32-f64", lambda L: L.ones(2, 3) @ L.ones(3, 2, dtype=L.float64)),
    case("mm-f32-f64", lambda L: L.mm(L.ones(2, 3), L.ones(3, 2, dtype=L.float64))),
    case("matmul-int-float", lambda L: L.ones(2, 3, dtype=L.int64) @ L.ones(3, 2)),
    case("linear-f64-input", lambda L: L.nn.Linear(3, 2)(L.ones(4, 3, dtype=L.float64))),
    case("trace-1d", lambda L: L.trace(L.ones(3))),
    case("tril-1d", lambda L: L.tril(L.ones(3))),
    # --- reshape and view -------------------------------------------------------------
    case("reshape-size", lambda L: L.ones(2, 3).reshape(4, 2), (4, 2)),
    case("view-size", lambda L: L.ones(2, 3).view(5), (5,)),
    case("reshape-infer-bad", lambda L: L.ones(2, 3).reshape(-1, 4), (-1, 4)),
    case("reshape-two-infers", lambda L: L.ones(2, 3).reshape(-1, -1)),
    case("view-non-contiguous", lambda L: L.ones(2, 3).t().view(6)),
    # --- dims -------------------------------------------------------------------------
    case("permute-ndims", lambda L: L.ones(2, 3, 4).permute(0, 1)),
    case("permute-repeated", lambda L: L.ones(2, 3, 4).permute(0, 0, 1)),
    case("flip-repeated", lambda L: L.ones(2, 3).flip((0, 0))),
    case("roll-shifts-vs-dims", lambda L: L.roll(L.ones(3), (1, 2), (0,))),
    case("transpose-dim", lambda L: L.ones(2, 3).transpose(0, 3)),
    case("unsqueeze-dim", lambda L: L.ones(2, 3).unsqueeze(5)),
    case("squeeze-dim", lambda L: L.ones(2, 3).squeeze(5)),
    case("flatten-start-after-end", lambda L: L.ones(2, 3, 4).flatten(2, 1)),
    case("repeat-too-few", lambda L: L.ones(2, 3).repeat(2)),
    case("narrow-past-end", lambda L: L.ones(3).narrow(0, 2, 3)),
    case("chunk-zero", lambda L: L.ones(3).chunk(0)),
    # --- cat and stack ----------------------------------------------------------------
    case("cat-sizes", lambda L: L.cat([L.ones(2, 3), L.ones(2, 4)], dim=0), (2, 3), (2, 4)),
    case(
        "cat-ranks",
        lambda L: L.cat([L.ones(2, 3), L.ones(3)]),
        (2, 3),
        (3,),
        names=r"number of dimensions|rank|\dD\b|\d-D\b",
    ),
    case("cat-empty", lambda L: L.cat([])),
    case("cat-dim", lambda L: L.cat([L.ones(2), L.ones(2)], dim=2)),
    case("stack-sizes", lambda L: L.stack([L.ones(2), L.ones(3)]), (2,), (3,)),
    case("stack-empty", lambda L: L.stack([])),
    # --- indexing ---------------------------------------------------------------------
    case("index-int", lambda L: L.ones(3)[5]),
    case("index-negative-int", lambda L: L.ones(3)[-4]),
    case("index-too-many", lambda L: L.ones(3)[0, 0]),
    case("index-str", lambda L: L.ones(3)["a"]),
    case("index-step-zero", lambda L: L.ones(3)[::0]),
    case("index-step-negative", lambda L: L.ones(3)[::-1]),
    case("index-mask-shape", lambda L: L.ones(3)[L.ones(4) > 0], (3,), (4,)),
    case("index-tensor-range", lambda L: L.ones(3)[L.tensor([0, 5])]),
    case("index-float-tensor", lambda L: L.ones(3)[L.tensor([0.0, 1.0])]),
    case("setitem-int", _setitem_out_of_range),
    case("gather-range", lambda L: L.gather(L.ones(2, 3), 1, L.tensor([[0, 3]]))),
    case("gather-float-index", lambda L: L.gather(L.ones(2, 3), 1, L.tensor([[0.0]]))),
    case(
        "gather-ndim",
        lambda L: L.gather(L.ones(2, 3), 1, L.tensor([0, 1])),
        names=r"number of dimensions",
    ),
    case("scatter-range", lambda L: L.zeros(3).scatter(0, L.tensor([5]), L.ones(1))),
    case("scatter_add-range", lambda L: L.zeros(3).scatter_add(0, L.tensor([5]), L.ones(1))),
    case("index_select-range", lambda L: L.ones(3).index_select(0, L.tensor([3]))),
    case(
        "index_select-negative",
        lambda L: L.ones(3).index_select(0, L.tensor([-1])),
        names=r"index_select|range",
    ),
    case(
        "cross_entropy-int32-target",
        lambda L: L.nn.functional.cross_entropy(L.ones(3, 4), L.tensor([0, 1, 2], dtype=L.int32)),
        names=r"Long",
    ),
    case(
        "nll_loss-int32-target",
        lambda L: L.nn.functional.nll_loss(L.ones(3, 4), L.tensor([0, 1, 2], dtype=L.int32)),
        names=r"Long",
    ),
    # --- reductions -------------------------------------------------------------------
    case("sum-dim", lambda L: L.ones(2, 3).sum(dim=2)),
    case("mean-dim", lambda L: L.ones(2, 3).mean(dim=-3)),
    case("mean-int", lambda L: L.ones(3, dtype=L.int64).mean()),
    case("std-int", lambda L: L.ones(3, dtype=L.int64).std(), names=r"\bstd\b|\bvar\b"),
    case("softmax-dim", lambda L: L.softmax(L.ones(2, 3), dim=2)),
    case(
        "softmax-int",
        lambda L: L.softmax(L.tensor([1, 2]), 0),
        xfail="torch has no integer softmax kernel (NotImplementedError); irgrad computes in float",
    ),
    case("argmax-dim", lambda L: L.ones(2, 3).argmax(dim=2)),
    case("cumsum-dim", lambda L: L.ones(2, 3).cumsum(dim=2)),
    case("max-empty", lambda L: L.ones(0).max(), names=r"\bmax\("),
    case("max-dim-empty", lambda L: L.ones(0, 3).max(dim=0), names=r"\bmax\("),
    case("norm-p-str", lambda L: L.norm(L.ones(3), p="bogus")),
    # --- nn layers --------------------------------------------------------------------
    case("Linear-in-features", lambda L: L.nn.Linear(3, 2)(L.ones(4, 5)), (4, 5), (3, 2), (2, 3)),
    case("Linear-list-input", lambda L: L.nn.Linear(3, 2)([1.0, 2.0, 3.0])),
    case("Conv2d-channels", lambda L: L.nn.Conv2d(3, 8, 3)(L.ones(1, 4, 8, 8)), (1, 4, 8, 8)),
    case("Conv2d-input-too-small", lambda L: L.nn.Conv2d(3, 8, 5)(L.ones(1, 3, 3, 3)), (3, 3), (5, 5)),
    case(
        "Conv2d-5d-input",
        lambda L: L.nn.Conv2d(1, 1, 3)(L.ones(1, 1, 3, 8, 8)),
        (1, 1, 3, 8, 8),
        names=r"3-?D",
    ),
    case(
        "Conv2d-3d-input-channels", lambda L: L.nn.Conv2d(1, 1, 3)(L.ones(2, 8, 8)), (2, 8, 8), (1, 2, 8, 8)
    ),
    case("Conv1d-channels", lambda L: L.nn.Conv1d(3, 4, 3)(L.ones(1, 2, 8)), (1, 2, 8), names=r"conv1d"),
    case(
        "Conv1d-input-too-small", lambda L: L.nn.Conv1d(3, 4, 5)(L.ones(1, 3, 2)), (1, 3, 2), names=r"conv1d"
    ),
    case("MaxPool2d-kernel-too-big", lambda L: L.nn.MaxPool2d(5)(L.ones(1, 1, 3, 3))),
    case("MaxPool1d-kernel-too-big", lambda L: L.nn.MaxPool1d(5)(L.ones(1, 1, 3)), names=r"max_pool1d"),
    case(
        "BatchNorm1d-features",
        lambda L: L.nn.BatchNorm1d(3)(L.ones(4, 5)),
        names=r"running_mean|batch_?norm|features",
    ),
    case("Embedding-range", lambda L: L.nn.Embedding(10, 3)(L.tensor([10]))),
    case("Embedding-negative", lambda L: L.nn.Embedding(10, 3)(L.tensor([-1]))),
    case("Embedding-float", lambda L: L.nn.Embedding(10, 3)(L.tensor([1.0]))),
    case("embedding-1d-weight", lambda L: _F(L).embedding(L.tensor([0]), L.ones(3))),
    case("LSTM-input-size", lambda L: L.nn.LSTM(3, 4)(L.ones(5, 2, 6))),
    case("LSTM-h0-shape", _lstm_bad_h0, (1, 2, 4), (1, 3, 4)),
    case(
        "LSTM-h0-without-c0",
        lambda L: L.nn.LSTM(3, 4)(L.ones(5, 2, 3), L.zeros(1, 2, 4)),
        xfail="torch indexes the lone tensor as (h0, c0) and raises an IndexError about it; "
        "irgrad's RuntimeError says what is wrong",
    ),
    case("LSTM-4d-input", lambda L: L.nn.LSTM(3, 4)(L.ones(5, 2, 3, 1))),
    case("Dropout-p", lambda L: L.nn.Dropout(1.5)),
    case(
        "Parameter-list",
        lambda L: L.nn.Parameter([1.0]),
        xfail="torch leaks an AttributeError ('list' object has no attribute 'detach'); "
        "irgrad raises a TypeError",
    ),
    case(
        "load_state_dict-missing",
        lambda L: _load_state_dict(L, lambda L: {"weight": L.ones(2, 3)}),
    ),
    case(
        "load_state_dict-shape",
        lambda L: _load_state_dict(L, lambda L: {"weight": L.ones(3, 3), "bias": L.ones(2)}),
        (3, 3),
        (2, 3),
    ),
    # --- losses -----------------------------------------------------------------------
    case("cross_entropy-target-range", lambda L: _F(L).cross_entropy(L.ones(3, 5), L.tensor([0, 1, 5]))),
    case("cross_entropy-target-negative", lambda L: _F(L).cross_entropy(L.ones(3, 5), L.tensor([0, 1, -1]))),
    case("cross_entropy-target-2d", lambda L: _F(L).cross_entropy(L.ones(3, 5), L.tensor([[0], [1], [2]]))),
    case(
        "cross_entropy-probs-shape", lambda L: _F(L).cross_entropy(L.ones(3, 5), L.ones(3, 4)), (3, 5), (3, 4)
    ),
    case("cross_entropy-1d-input", lambda L: _F(L).cross_entropy(L.ones(5), L.tensor([0, 1]))),
    case("nll_loss-batch", lambda L: _F(L).nll_loss(L.ones(3, 5), L.tensor([0, 1]))),
    case(
        "mse_loss-no-broadcast",
        lambda L: _F(L).mse_loss(L.ones(3), L.ones(4)),
        (3,),
        (4,),
        names=r"mse_loss",
    ),
    case("bce-target-shape", lambda L: _F(L).binary_cross_entropy(L.ones(3) / 2, L.ones(4)), (3,), (4,)),
    case("loss-reduction-name", lambda L: _F(L).mse_loss(L.ones(3), L.ones(3), reduction="bogus")),
    case("one_hot-range", lambda L: _F(L).one_hot(L.tensor([0, 3]), num_classes=3)),
    # --- autograd ---------------------------------------------------------------------
    case("backward-non-scalar", lambda L: (_leaf(L, 3) * 2).backward()),
    case("backward-grad-shape", lambda L: (_leaf(L, 3) * 2).backward(L.ones(4)), (3,), (4,)),
    case("backward-twice", _backward_twice),
    case("backward-no-grad", lambda L: L.ones(3).sum().backward()),
    case("grad-input-no-grad", lambda L: L.autograd.grad((_leaf(L, 3) * 2).sum(), L.ones(3))),
    case("grad-input-unused", lambda L: L.autograd.grad(_leaf(L, 3).sum(), _leaf(L, 3))),
    case("inplace-on-leaf", _inplace_on_leaf),
    case("setitem-on-leaf", _setitem_on_leaf),
    case("requires_grad-int", lambda L: L.tensor([1, 2]).requires_grad_()),
    case("numpy-requires-grad", lambda L: _leaf(L, 3).numpy()),
    case("item-many", lambda L: L.ones(3).item()),
    case("bool-many", lambda L: bool(L.ones(3))),
    # --- optimizers, data, serialization ------------------------------------------------
    case("optim-empty-params", lambda L: L.optim.SGD([], lr=0.1)),
    case("optim-negative-lr", lambda L: L.optim.SGD([_leaf(L, 3)], lr=-1.0)),
    case("Adam-beta", lambda L: L.optim.Adam([_leaf(L, 3)], betas=(1.5, 0.9))),
    case("SGD-nesterov-no-momentum", lambda L: L.optim.SGD([_leaf(L, 3)], lr=0.1, nesterov=True)),
    case("DataLoader-batch_size-0", lambda L: _dataloader(L, batch_size=0)),
    case("TensorDataset-sizes", lambda L: L.utils.data.TensorDataset(L.ones(3), L.ones(4))),
    case("load-garbage", _load_garbage),
    case("load-missing-file", lambda L: L.load("/nonexistent/irgrad-error-parity.pt")),
    # --- creation and conversion ------------------------------------------------------
    case("tensor-ragged", lambda L: L.tensor([[1, 2], [3]])),
    case("tensor-of-tensors-ragged", lambda L: L.tensor([L.ones(2), L.ones(3)])),
    case("tensor-None-element", lambda L: L.tensor([1.0, None])),
    case("tensor-int-overflow", lambda L: L.tensor([2**70])),
    case("tensor-str", lambda L: L.tensor("abc")),
    case("ones_like-list", lambda L: L.ones_like([1, 2])),
    case("to-unknown-string", lambda L: L.ones(3).to("float33")),
    case("to-unknown-dtype-kwarg", lambda L: L.ones(3).to(dtype="float33")),
    case("zeros-negative", lambda L: L.zeros(-1)),
    case("zeros-negative-2d", lambda L: L.zeros(2, -3)),
    case("eye-negative", lambda L: L.eye(-1)),
    case("randperm-negative", lambda L: L.randperm(-1)),
    case("linspace-negative-steps", lambda L: L.linspace(0, 1, -1)),
    case("arange-step-zero", lambda L: L.arange(0, 5, 0)),
    case("arange-wrong-sign", lambda L: L.arange(5, 0, 1)),
    case("randn-float-size", lambda L: L.randn(2.5)),
    case("ones-float-in-shape", lambda L: L.ones((2, 3.0))),
]


def _raise(call, lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call(lib)
        except Exception as err:
            return err
    return None


def _builtin_base(exc: BaseException) -> type:
    """The first builtin class in ``exc``'s MRO (``torch.OutOfMemoryError`` -> ``RuntimeError``)."""
    return next(c for c in type(exc).__mro__ if getattr(builtins, c.__name__, None) is c)


def _renderings(shape: tuple[int, ...]) -> tuple[str, ...]:
    return (str(shape), str(list(shape)), "x".join(map(str, shape)))


@pytest.mark.parametrize("call,shapes,names", CASES)
def test_misuse_raises_like_torch(call, shapes, names):
    theirs = _raise(call, torch)
    assert theirs is not None, "torch accepts this case; it does not belong in the table"
    mine = _raise(call, irgrad)
    want = _builtin_base(theirs)
    detail = f"torch: {type(theirs).__name__}: {theirs}"
    assert mine is not None, f"irgrad raised nothing; {detail}"
    got = f"irgrad: {type(mine).__name__}: {mine}"
    assert isinstance(mine, want), f"{got}; expected a {want.__name__}; {detail}"
    message = str(mine)
    leaked = [m for m in RAW_MARKERS if m in message and m not in str(theirs)]
    assert not leaked, f"{got}; internal message leaked ({leaked})"
    if shapes:
        named = [s for s in shapes if any(r in message for r in _renderings(s))]
        assert named, f"{got}; names none of the shapes {shapes}"
    if names:
        assert re.search(names, message, re.IGNORECASE), f"{got}; does not match {names!r}"


def test_mse_loss_broadcast_warns_like_torch():
    """Broadcastable but different sizes: PyTorch warns and broadcasts; irgrad must too."""
    results = []
    for lib in (irgrad, torch):
        with pytest.warns(UserWarning, match="target size"):
            results.append(_F(lib).mse_loss(lib.ones(3), lib.zeros(2, 3)).item())
    assert results[0] == results[1]


@pytest.mark.parametrize("fill", [lambda t: t.zero_(), lambda t: t.fill_(5.0)])
def test_fill_of_an_expanded_non_leaf_raises_at_the_backward(fill):
    """PyTorch fills an expanded view of a tensor that requires grad (every element gets
    the one value) and raises its internal-overlap error at the backward, not at the
    write (irgrad raised at the write)."""
    results = []
    for lib in (torch, irgrad):
        x = lib.ones(3, requires_grad=True)
        base = x * 2
        view = base[:1].expand(3)
        fill(view)
        results.append(base.detach().numpy().tolist())
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            base.sum().backward()
    assert results[0] == results[1]
