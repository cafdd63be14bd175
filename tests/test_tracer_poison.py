"""Library code never computes on a traced tensor's data behind the tracer's back.

Each case is traced (forward and, for float inputs, backward) with raw data access
poisoned (see tests/poison.py): a library function that reads a traced tensor's
values outside the op registry fails here with the numpy call it made, instead of
silently making the tracer record a constant.  A new public function belongs in this
table; a function that must read values (data-dependent shapes) must break the graph
instead, and is listed with the break it gives.
"""

from __future__ import annotations

import numpy as np
import pytest
from poison import PoisonError, poisoned_capture

import irgrad
import irgrad.nn as nn
import irgrad.nn.functional as F


def R(*shape, grad=True):
    t = irgrad.randn(*shape)
    return t.requires_grad_() if grad else t


def I(high, *shape):  # noqa: E743
    return irgrad.randint(0, high, shape)


def M(*shape):
    return irgrad.rand(*shape) > 0.5


def module(make, *shape):
    """A case running a module made by ``make`` on one input of ``shape``."""
    return lambda: make(), lambda: (R(*shape),)


MODULES = {
    "Linear": module(lambda: nn.Linear(4, 3), 2, 4),
    "Bilinear": (lambda: (lambda m: lambda a, b: m(a, b))(nn.Bilinear(3, 2, 4)), lambda: (R(5, 3), R(5, 2))),
    "Conv1d": module(lambda: nn.Conv1d(2, 3, 3, padding=1, stride=2), 2, 2, 7),
    "Conv2d-groups": module(lambda: nn.Conv2d(4, 4, 3, padding=1, groups=2, dilation=1), 2, 4, 5, 5),
    "ConvTranspose2d": module(lambda: nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1), 2, 3, 4, 4),
    "MaxPool2d-indices": module(lambda: nn.MaxPool2d(2, return_indices=False), 2, 3, 6, 6),
    "MaxPool1d": module(lambda: nn.MaxPool1d(3, stride=2), 2, 3, 9),
    "AvgPool2d": module(lambda: nn.AvgPool2d(3, stride=2, padding=1), 2, 3, 7, 7),
    "AdaptiveAvgPool2d": module(lambda: nn.AdaptiveAvgPool2d((2, 3)), 2, 3, 7, 5),
    "AdaptiveMaxPool2d": module(lambda: nn.AdaptiveMaxPool2d(2), 2, 3, 5, 5),
    "BatchNorm1d": module(lambda: nn.BatchNorm1d(4), 6, 4),
    "BatchNorm2d-eval": module(lambda: nn.BatchNorm2d(3).eval(), 2, 3, 4, 4),
    "LayerNorm": module(lambda: nn.LayerNorm(5), 2, 3, 5),
    "GroupNorm": module(lambda: nn.GroupNorm(2, 4), 2, 4, 3),
    "RMSNorm": module(lambda: nn.RMSNorm(5), 3, 5),
    "Dropout": module(lambda: nn.Dropout(0.3), 4, 5),
    "Dropout2d": module(lambda: nn.Dropout2d(0.3), 2, 4, 3, 3),
    "AlphaDropout": module(lambda: nn.AlphaDropout(0.3), 4, 5),
    "LSTM": (
        lambda: (lambda m: lambda x: m(x)[0])(nn.LSTM(3, 4, num_layers=2, batch_first=True)),
        lambda: (R(2, 5, 3),),
    ),
    "GRU-bidirectional": (
        lambda: (lambda m: lambda x: m(x)[0])(nn.GRU(3, 4, bidirectional=True)),
        lambda: (R(5, 2, 3),),
    ),
    "RNN": (lambda: (lambda m: lambda x: m(x)[0])(nn.RNN(3, 4)), lambda: (R(5, 2, 3),)),
    "LSTMCell": (lambda: (lambda m: lambda x: m(x)[0])(nn.LSTMCell(3, 4)), lambda: (R(2, 3),)),
    "TransformerEncoderLayer": module(
        lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1, batch_first=True), 2, 5, 8
    ),
    "MultiheadAttention": (
        lambda: (lambda m: lambda q, k: m(q, k, k)[0])(nn.MultiheadAttention(8, 2, batch_first=True)),
        lambda: (R(2, 3, 8), R(2, 4, 8)),
    ),
    "Embedding": (lambda: (lambda m: lambda i: m(i))(nn.Embedding(7, 3)), lambda: (I(7, 2, 4),)),
    "Embedding-padding": (
        lambda: (lambda m: lambda i: m(i))(nn.Embedding(7, 3, padding_idx=0)),
        lambda: (I(7, 6),),
    ),
    "Flatten-Unflatten": module(lambda: nn.Sequential(nn.Flatten(), nn.Unflatten(1, (3, 4))), 2, 3, 4),
    "Upsample-bilinear": module(lambda: nn.Upsample(scale_factor=1.5, mode="bilinear"), 2, 3, 4, 4),
    "InstanceNorm2d-tracked": module(
        lambda: nn.InstanceNorm2d(3, affine=True, track_running_stats=True), 2, 3, 4, 4
    ),
    "weight_norm-parametrization": module(
        lambda: nn.utils.parametrizations.weight_norm(nn.Linear(4, 3), dim=None), 2, 4
    ),
}

ACTIVATIONS = [
    "relu", "relu6", "elu", "selu", "celu", "gelu", "silu", "mish", "softplus", "softsign", "tanhshrink",
    "logsigmoid", "hardswish", "hardsigmoid", "hardtanh", "leaky_relu", "glu",
]  # fmt: skip

FUNCTIONS = {
    **{f"F.{name}": (lambda name=name: getattr(F, name), lambda: (R(3, 4),)) for name in ACTIVATIONS},
    "F.threshold": (lambda: lambda x: F.threshold(x, 0.1, -1.0), lambda: (R(3, 4),)),
    "F.softmax": (lambda: lambda x: F.softmax(x, dim=-1), lambda: (R(3, 4),)),
    "F.log_softmax": (lambda: lambda x: F.log_softmax(x, dim=0), lambda: (R(3, 4),)),
    "F.normalize": (lambda: lambda x: F.normalize(x, dim=1), lambda: (R(3, 4),)),
    "F.cosine_similarity": (lambda: F.cosine_similarity, lambda: (R(3, 4), R(3, 4))),
    "F.pairwise_distance": (lambda: F.pairwise_distance, lambda: (R(3, 4), R(3, 4))),
    "F.pad": (lambda: lambda x: F.pad(x, (1, 2, 0, 1), value=0.5), lambda: (R(2, 3, 4),)),
    "F.one_hot": (lambda: lambda i: F.one_hot(i, 5), lambda: (I(5, 4),)),
    "F.sdpa-causal": (
        lambda: lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        lambda: (R(2, 4, 8), R(2, 4, 8), R(2, 4, 8)),
    ),
    "F.unfold-fold": (
        lambda: lambda x: F.fold(F.unfold(x, 2, stride=1), (4, 4), 2, stride=1),
        lambda: (R(1, 2, 4, 4),),
    ),
    "F.cross_entropy-smoothing": (
        lambda: lambda x, y: F.cross_entropy(x, y, label_smoothing=0.1, ignore_index=1),
        lambda: (R(5, 4), I(4, 5)),
    ),
    "F.cross_entropy-probabilities": (
        lambda: lambda x, y: F.cross_entropy(x, y.softmax(-1)),
        lambda: (R(5, 4), R(5, 4, grad=False)),
    ),
    "F.nll_loss-weight": (
        lambda: lambda x, y, w: F.nll_loss(x, y, weight=w),
        lambda: (R(5, 4), I(4, 5), irgrad.rand(4)),
    ),
    "F.kl_div": (
        lambda: lambda x, y: F.kl_div(x, y, reduction="batchmean"),
        lambda: (R(3, 4), irgrad.rand(3, 4)),
    ),
    "F.bce_with_logits": (
        lambda: lambda x, y: F.binary_cross_entropy_with_logits(x, y, pos_weight=irgrad.ones(4)),
        lambda: (R(3, 4), irgrad.rand(3, 4)),
    ),
    "F.binary_cross_entropy": (
        lambda: lambda x, y: F.binary_cross_entropy(x.sigmoid(), y),
        lambda: (R(3, 4), irgrad.rand(3, 4)),
    ),
    "F.mse_l1_smooth_huber": (
        lambda: lambda x, y: F.mse_loss(x, y) + F.l1_loss(x, y) + F.smooth_l1_loss(x, y) + F.huber_loss(x, y),
        lambda: (R(3, 4), R(3, 4)),
    ),
    "F.margin_losses": (
        lambda: (
            lambda a, b, y: F.margin_ranking_loss(a, b, y) + F.cosine_embedding_loss(a[None], b[None], y[:1])
        ),
        lambda: (R(4), R(4), irgrad.tensor([1.0, -1.0, 1.0, -1.0])),
    ),
    "F.multi_margin_loss": (lambda: F.multi_margin_loss, lambda: (R(3, 4), I(4, 3))),
    "F.triplet_margin_loss": (lambda: F.triplet_margin_loss, lambda: (R(3, 4), R(3, 4), R(3, 4))),
    "F.poisson_gaussian_nll": (
        lambda: lambda x, y, v: F.poisson_nll_loss(x, y) + F.gaussian_nll_loss(x, y, v.exp()),
        lambda: (R(3, 4), irgrad.rand(3, 4), R(3, 4)),
    ),
    "F.batch_norm-train": (
        lambda: lambda x: F.batch_norm(x, irgrad.zeros(3), irgrad.ones(3), training=True),
        lambda: (R(4, 3),),
    ),
    "F.instance_norm": (lambda: F.instance_norm, lambda: (R(2, 3, 5),)),
    "F.interpolate-modes": (
        lambda: (
            lambda x: (
                F.interpolate(x, size=(5, 3), mode="bicubic", align_corners=True).sum()
                + F.interpolate(x, scale_factor=0.7, mode="area").sum()
                + F.interpolate(x, scale_factor=(2.0, 1.3), mode="nearest-exact").sum()
            )
        ),
        lambda: (R(2, 3, 4, 4),),
    ),
    "F.grid_sample-affine_grid": (
        lambda: (
            lambda x, theta: (
                F.grid_sample(
                    x,
                    F.affine_grid(theta, (2, 3, 3, 5), False),
                    padding_mode="reflection",
                    align_corners=False,
                )
                + F.grid_sample(
                    x, F.affine_grid(theta, (2, 3, 3, 5), True), mode="bicubic", align_corners=True
                )
            )
        ),
        lambda: (R(2, 3, 4, 4), R(2, 2, 3)),
    ),
}

TENSOR_OPS = {
    "index-int-tensor": (lambda: lambda x, i: x[i, 1:], lambda: (R(5, 4), I(5, 3))),
    "index-two-tensors": (lambda: lambda x, i, j: x[i, j], lambda: (R(5, 4), I(5, 3), I(4, 3))),
    "gather": (lambda: lambda x, i: x.gather(1, i), lambda: (R(3, 4), I(4, 3, 2))),
    "scatter_add": (lambda: lambda x, i, s: x.scatter_add(1, i, s), lambda: (R(3, 4), I(4, 3, 2), R(3, 2))),
    "scatter": (lambda: lambda x, i, s: x.scatter(1, i, s), lambda: (R(3, 4), I(4, 3, 2), R(3, 2))),
    "index_select": (lambda: lambda x, i: x.index_select(0, i), lambda: (R(3, 4), I(3, 5))),
    "index_add-copy-fill": (
        lambda: lambda x, s, i, v: x.index_add(0, i, s, alpha=2.0).index_copy(0, i, s).index_fill(1, i, v),
        lambda: (R(3, 4), R(3, 4), I(3, 3), R()),
    ),
    "scatter_reduce": (
        lambda: (
            lambda x, i, s: sum(
                x.scatter_reduce(1, i, s, r, include_self=k).sum()
                for r in ("sum", "prod", "mean", "amax", "amin")
                for k in (True, False)
            )
        ),
        lambda: (R(3, 4), I(4, 3, 2), R(3, 2)),
    ),
    "masked_scatter": (lambda: lambda x, m, s: x.masked_scatter(m, s), lambda: (R(3, 4), M(3, 4), R(12))),
    "cumprod-cummax-cummin-histc": (
        lambda: lambda x: x.cumprod(1) + x.cummax(0).values * x.cummin(1)[0] + irgrad.histc(x, 4).sum(),
        lambda: (R(3, 4),),
    ),
    "take_along_dim": (lambda: lambda x, i: irgrad.take_along_dim(x, i, 1), lambda: (R(3, 4), I(4, 3, 2))),
    "masked_fill-where": (
        lambda: lambda x, m: irgrad.where(m, x.masked_fill(~m, 2.0), -x),
        lambda: (R(3, 4), M(3, 4)),
    ),
    "reductions": (
        lambda: (
            lambda x: (
                x.sum(0)
                + x.mean(0)
                + x.amax(0)
                + x.amin(0)
                + x.prod(0)
                + x.logsumexp(0)
                + x.var(0)
                + x.std(0, correction=0)
                + x.norm(dim=0)
                + x.max(0)[0]
                + x.min(0).values
            )
        ),
        lambda: (R(3, 4),),
    ),
    "argmax-argmin": (lambda: lambda x: (x.argmax(1), x.argmin(0)), lambda: (R(3, 4),)),
    "cumsum": (lambda: lambda x: x.cumsum(1), lambda: (R(3, 4),)),
    "clamp-lerp-addcmul": (
        lambda: lambda x, y: x.clamp(-0.5, 0.5).lerp(y, 0.3).addcmul(x, y, value=0.5).addcdiv(x, y.exp()),
        lambda: (R(3, 4), R(3, 4)),
    ),
    "matmul-bmm-einsum": (
        lambda: lambda a, b: irgrad.einsum("bij,bjk->bik", a, b) + a.bmm(b) + (a @ b[0]),
        lambda: (R(2, 3, 4), R(2, 4, 4)),
    ),
    "cat-stack-split-chunk": (
        lambda: (
            lambda x: (
                irgrad.cat(list(x.split(2, 0)) + list(x.chunk(2, 0)), 0).sum()
                + irgrad.stack(x.unbind(0)).sum()
            )
        ),
        lambda: (R(4, 4),),
    ),
    "flip-roll-repeat-tril": (
        lambda: lambda x: x.flip(0).roll(1, 1).repeat(2, 1).tril().triu(-1),
        lambda: (R(3, 3),),
    ),
    "views": (
        lambda: (
            lambda x: (
                x.view(2, 6)
                .t()
                .reshape(3, 4)
                .permute(1, 0)
                .unsqueeze(0)
                .squeeze(0)
                .transpose(0, 1)
                .narrow(0, 1, 2)
                .expand(2, 2, 4)
                .contiguous()
                .flatten()
            )
        ),
        lambda: (R(3, 4),),
    ),
    "outer-trace": (
        lambda: lambda a, b: irgrad.outer(a, b).trace() + irgrad.outer(a, b).sum(),
        lambda: (R(3), R(3)),
    ),
    "type-promotion": (
        lambda: lambda x, i: (x * i + i.to(irgrad.float64) / 3).sum() + (i // 2).float().sum(),
        lambda: (R(3, 4), I(5, 3, 4)),
    ),
}

INPLACE = {
    "add_-on-intermediate": (lambda: lambda x: (x * 2).add_(1).mul_(x), lambda: (R(3, 4),)),
    "setitem-slice": (lambda: _setitem_slice, lambda: (R(3, 4), R(3))),
    "setitem-int-tensor": (lambda: _setitem_index, lambda: (R(5, 4), I(5, 2), R(2, 4))),
    "inplace-on-view": (lambda: _inplace_on_view, lambda: (R(3, 4),)),
    "relu_-clamp_-masked_fill_": (
        lambda: lambda x, m: (x + 1).relu_().clamp_(max=1.5).masked_fill_(m, 0.25),
        lambda: (R(3, 4), M(3, 4)),
    ),
    "ReLU-inplace-after-conv": module(
        lambda: nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(inplace=True), nn.LeakyReLU(0.2, inplace=True)),
        1,
        2,
        5,
        5,
    ),
    "residual-add": (lambda: _residual, lambda: (R(2, 4),)),
    "index_add_-scatter_-masked_scatter_": (
        lambda: (
            lambda x, i, s, m: (
                (x * 1)
                .index_add_(0, i, s)
                .scatter_(0, i[:, None].expand(3, 4), s)
                .scatter_reduce_(1, i[None].expand(3, 3), s, "amax")
                .masked_scatter_(m, s)
                .index_fill_(1, i, 0.5)
            )
        ),
        lambda: (R(3, 4), I(3, 3), R(3, 4), M(3, 4)),
    ),
    "copy_-fill_-zero_": (
        lambda: lambda x, y: (x * 1).copy_(y * 2).add_((x * 1).fill_(2)).add_((x * 1).zero_()),
        lambda: (R(3), R(3)),
    ),
}


def _setitem_slice(x, v):
    y = x * 1
    y[:, 0] = v
    return y


def _setitem_index(x, i, v):
    y = x.clone()
    y[i] = v
    return y


def _inplace_on_view(x):
    y = x * 1
    row = y[1]
    row.mul_(3)  # writes through the view into y
    return y + row.sum()


def _residual(x):
    out = x * 2  # (tanh would be wrong here: its backward reads its output, as torch's does)
    out += x  # in place on an intermediate with a history
    return out.relu_()


CASES = {**MODULES, **FUNCTIONS, **TENSOR_OPS, **INPLACE}


def _traced(fn):
    """The forward, then a backward through every float output, as a training step does."""

    def step(*args):
        out = fn(*args)
        outs = out if isinstance(out, tuple) else (out,)
        total = sum((o.float().sum() for o in outs if o.requires_grad), irgrad.zeros(()))
        if total.requires_grad:
            total.backward()
        return out

    return step


@pytest.mark.parametrize("name", list(CASES))
def test_library_code_reads_traced_data_only_through_ops(name, monkeypatch):
    irgrad.manual_seed(0)
    make_fn, make_args = CASES[name]
    fn = make_fn()
    args = make_args()
    try:
        cap = poisoned_capture(monkeypatch, _traced(fn), *args)
    except PoisonError as exc:
        import traceback

        where = [f for f in traceback.extract_tb(exc.__traceback__) if "/irgrad/" in f.filename][-1:]
        pytest.fail(f"{name}: {exc} in {where}")
    assert cap.graph_break is None, f"{name}: {cap.graph_break}"


DATA_DEPENDENT = {
    "boolean-mask-index": (lambda x: x[x > 0], "boolean-mask indexing"),
    "nonzero": (lambda x: irgrad.nonzero(x > 0), "nonzero()"),
    "item": (lambda x: x * x.sum().item(), "item()"),
    "one_hot-without-classes": (lambda x: F.one_hot((x > 0).long()), "one_hot() without num_classes"),
    "pack_padded_sequence": (
        lambda x: (
            irgrad.nn.utils.rnn.pack_padded_sequence(
                x.unsqueeze(-1), (x[:, 0] > 0).long() + 2, batch_first=True, enforce_sorted=False
            ).data
        ),
        "the lengths of a packed sequence",
    ),
}


@pytest.mark.parametrize("name", list(DATA_DEPENDENT))
def test_data_dependent_functions_break_the_graph(name, monkeypatch):
    fn, cause = DATA_DEPENDENT[name]
    cap = poisoned_capture(monkeypatch, fn, irgrad.randn(3, 4))
    assert cap.graph_break is not None and cause in str(cap.graph_break)


def test_the_poison_finds_a_sneaky_read(monkeypatch):
    from irgrad.tensor import Tensor

    def sneaky(x):
        return x * Tensor._wrap(np.asarray(x._data.max()))

    with pytest.raises(PoisonError, match="maximum"):
        poisoned_capture(monkeypatch, sneaky, irgrad.randn(3))


def test_a_packed_sequence_passed_to_a_compiled_lstm_is_run_by_its_own_batch_sizes():
    # two packings of the same total length: the compiled call must not reuse the first's
    # batch sizes (they shape the recurrence; reading them is a graph break)
    irgrad.manual_seed(0)
    lstm = nn.LSTM(2, 3, batch_first=True)
    compiled = irgrad.compile(lstm)
    x = irgrad.randn(3, 6, 2)
    for lengths in ([6, 3, 2], [6, 4, 1], [6, 3, 2]):
        packed = nn.utils.rnn.pack_padded_sequence(
            x, irgrad.tensor(lengths), batch_first=True, enforce_sorted=False
        )
        want, got = lstm(packed)[1][0], compiled(packed)[1][0]
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), atol=1e-6)
    assert "batch sizes" in str(compiled._compiled.breaks[0])
