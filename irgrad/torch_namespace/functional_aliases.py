"""PyTorch's top-level forms of ``nn.functional`` ops (``torch.embedding``, ``torch.kl_div``,
``torch.lstm_cell`` ...), which take ATen's arguments rather than the functional ones:
``reduction`` as an int (0 none, 1 mean, 2 sum), ``batch_norm``'s weights before its
running statistics, ``embedding``'s weight first, pooling ``*_with_indices`` returning
both results, and the in-place activations and dropouts (``torch.selu_(x)``).

It also gives ``Tensor`` its ``hardshrink`` and ``prelu`` methods, whose single
implementation lives in ``nn.functional``, a layer above ``tensor_methods``.
"""

from __future__ import annotations

from .._arguments import tensor_arguments
from ..nn import functional as F
from ..nn.functional.dropout import _apply_mask, _check_p
from ..nn.modules.rnn_steps import _STEPS, _arrange, _project
from ..tensor import Tensor

__all__ = [
    "embedding",
    "batch_norm",
    "instance_norm",
    "kl_div",
    "margin_ranking_loss",
    "poisson_nll_loss",
    "triplet_margin_loss",
    "cosine_embedding_loss",
    "hinge_embedding_loss",
    "binary_cross_entropy_with_logits",
    "ctc_loss",
    "constant_pad_nd",
    "lstm_cell",
    "gru_cell",
    "rnn_tanh_cell",
    "rnn_relu_cell",
    "celu_",
    "selu_",
    "threshold_",
    "rrelu_",
    "dropout_",
    "alpha_dropout_",
    "feature_alpha_dropout_",
    "feature_dropout",
    "feature_dropout_",
    "adaptive_max_pool1d",
    "max_pool1d_with_indices",
]

_REDUCTIONS = ("none", "mean", "sum")


def _reduction(reduction: int) -> str:
    """ATen's reduction enum as the functional's name."""
    if reduction not in (0, 1, 2):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return _REDUCTIONS[reduction]


@tensor_arguments
def embedding(
    weight: Tensor,
    indices: Tensor,
    padding_idx: int = -1,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` at ``indices``; a negative ``padding_idx`` means none, as ATen's."""
    return F.embedding(
        indices,
        weight,
        None if padding_idx < 0 else padding_idx,
        scale_grad_by_freq=scale_grad_by_freq,
        sparse=sparse,
    )


@tensor_arguments
def batch_norm(
    input: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    training: bool,
    momentum: float,
    eps: float,
    cudnn_enabled: bool,
) -> Tensor:
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


@tensor_arguments
def instance_norm(
    input: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    use_input_stats: bool,
    momentum: float,
    eps: float,
    cudnn_enabled: bool,
) -> Tensor:
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


@tensor_arguments
def kl_div(input: Tensor, target: Tensor, reduction: int = 1, *, log_target: bool = False) -> Tensor:
    """KL divergence with ``input`` in log space; the int ``reduction`` 1 is the elementwise
    mean, as ATen's (not ``'batchmean'``)."""
    return F.kl_div(input, target, reduction=_reduction(reduction), log_target=log_target)


@tensor_arguments
def margin_ranking_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: int = 1
) -> Tensor:
    return F.margin_ranking_loss(input1, input2, target, margin, reduction=_reduction(reduction))


@tensor_arguments
def poisson_nll_loss(
    input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float, reduction: int
) -> Tensor:
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps, reduction=_reduction(reduction))


@tensor_arguments
def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: int = 1,
) -> Tensor:
    return F.triplet_margin_loss(
        anchor, positive, negative, margin, p, eps, swap, reduction=_reduction(reduction)
    )


@tensor_arguments
def cosine_embedding_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: int = 1
) -> Tensor:
    return F.cosine_embedding_loss(input1, input2, target, margin, reduction=_reduction(reduction))


@tensor_arguments
def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, reduction: int = 1) -> Tensor:
    return F.hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction))


@tensor_arguments
def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    pos_weight: Tensor | None = None,
    reduction: int = 1,
) -> Tensor:
    return F.binary_cross_entropy_with_logits(
        input, target, weight, reduction=_reduction(reduction), pos_weight=pos_weight
    )


@tensor_arguments
def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths,
    target_lengths,
    blank: int = 0,
    reduction: int = 1,
    zero_infinity: bool = False,
) -> Tensor:
    return F.ctc_loss(
        log_probs, targets, input_lengths, target_lengths, blank, _reduction(reduction), zero_infinity
    )


@tensor_arguments
def constant_pad_nd(input: Tensor, pad, value: float = 0) -> Tensor:
    return F.pad(input, pad, "constant", value)


def _cell(mode: str, input: Tensor, states: tuple, w_ih: Tensor, w_hh: Tensor, b_ih, b_hh) -> tuple:
    """One step of ``nn.RNNCell``/``LSTMCell``/``GRUCell``'s recurrence on (batch, features)
    input with the given weights (biases both or neither)."""
    w = _arrange(mode, w_ih, w_hh, b_ih, b_hh)
    return _STEPS[mode](_project(input, w), states, w)


@tensor_arguments
def lstm_cell(
    input: Tensor,
    hx,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """``(h', c')`` from ``hx = (h, c)``, as ``nn.LSTMCell``."""
    h, c = _cell("LSTM", input, tuple(hx), w_ih, w_hh, b_ih, b_hh)
    return h, c


@tensor_arguments
def gru_cell(
    input: Tensor,
    hx: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> Tensor:
    return _cell("GRU", input, (hx,), w_ih, w_hh, b_ih, b_hh)[0]


@tensor_arguments
def rnn_tanh_cell(
    input: Tensor,
    hx: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> Tensor:
    return _cell("RNN_TANH", input, (hx,), w_ih, w_hh, b_ih, b_hh)[0]


@tensor_arguments
def rnn_relu_cell(
    input: Tensor,
    hx: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> Tensor:
    return _cell("RNN_RELU", input, (hx,), w_ih, w_hh, b_ih, b_hh)[0]


@tensor_arguments
def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return F.celu(input, alpha, inplace=True)


@tensor_arguments
def selu_(input: Tensor) -> Tensor:
    return F.selu(input, inplace=True)


@tensor_arguments
def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return F.threshold(input, threshold, value, inplace=True)


@tensor_arguments
def rrelu_(
    input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False, generator=None
) -> Tensor:
    """``F.rrelu(..., inplace=True)``; its slopes come from irgrad's global generator only."""
    if generator is not None:
        raise NotImplementedError("torch.rrelu_: irgrad draws rrelu's slopes from the global generator only")
    return F.rrelu(input, lower, upper, training, inplace=True)


@tensor_arguments
def dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    return F.dropout(input, p, train, inplace=True)


@tensor_arguments
def alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    return F.alpha_dropout(input, p, train, inplace=True)


@tensor_arguments
def feature_alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    return F.feature_alpha_dropout(input, p, train, inplace=True)


def _feature_dropout(input: Tensor, p: float, train: bool, inplace: bool) -> Tensor:
    """Zero whole features (dims 0 and 1 pick one; the rest are its extent) with
    probability ``p``, scaling the rest by 1/(1-p)."""
    _check_p(p)
    if input.ndim < 2 and train and 0 < p < 1 and input.numel():
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if not train or p == 0.0:
        return input
    shape = tuple(input.shape)
    return _apply_mask(input, shape[:2] + (1,) * (len(shape) - 2), p, inplace)


@tensor_arguments
def feature_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    return _feature_dropout(input, p, train, False)


@tensor_arguments
def feature_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    return _feature_dropout(input, p, train, True)


@tensor_arguments
def adaptive_max_pool1d(input: Tensor, output_size) -> tuple[Tensor, Tensor]:
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


@tensor_arguments
def max_pool1d_with_indices(
    input: Tensor, kernel_size, stride=(), padding=0, dilation=1, ceil_mode: bool = False
) -> tuple[Tensor, Tensor]:
    """``(values, indices)`` of 1-D max pooling; an empty ``stride`` is the kernel size."""
    stride = None if stride is None or (not isinstance(stride, int) and len(stride) == 0) else stride
    return F.max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)


Tensor.hardshrink = F.hardshrink
Tensor.prelu = F.prelu
