"""``ctc_loss`` and its gradient: the connectionist temporal classification loss.

``ctc_loss(log_probs (T, N, C), targets (N, S), input_lengths (N,), target_lengths (N,))``
is each sample's ``-log p(target | log_probs)``, summed over every alignment of the
target (blanks between and around its labels, repeats merged) by the forward recursion
of Graves et al. in log space, over the sample's first ``input_length`` steps.  Its
gradient recomputes the forward and the backward variables and gives PyTorch's formula,
``exp(lp) - exp(log(sum of alpha beta over the label) + nll - lp)``: the gradient with
respect to the logits of a log_softmax that made ``log_probs`` (the first term is what
log_softmax's backward removes).  With ``zero_infinity`` an impossible alignment's loss
and gradient are 0.  The kernels are numpy, vectorized over the batch and the extended
target, in float64.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import FLOAT, INT
from .registry import Kind, Meta, OpDef, register
from .shapes import fmt

_NEG_INF = -np.inf


def _extended(targets: np.ndarray, target_lengths: np.ndarray, blank: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels (N, 2S+1): blank, y1, blank, y2, ..., blank; whether each position may be
    reached from two back (a label unlike the one two before))."""
    n, s = targets.shape
    labels = np.full((n, 2 * s + 1), blank, dtype=np.int64)
    labels[:, 1::2] = targets
    skip = np.zeros(labels.shape, dtype=bool)
    skip[:, 3::2] = targets[:, 1:] != targets[:, :-1]
    length = 2 * target_lengths + 1
    skip &= np.arange(2 * s + 1)[None, :] < length[:, None]
    return labels, skip


def _emissions(lp: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(T, N, 2S+1): each time step's log probability of each extended label."""
    n = labels.shape[0]
    return lp[:, np.arange(n)[:, None], labels]


def _alphas(lp: np.ndarray, labels, skip, input_lengths, target_lengths) -> np.ndarray:
    """The forward variables, log space, (T, N, 2S+1); -inf past each sample's end."""
    t_max = lp.shape[0]
    e = _emissions(lp, labels)
    width = labels.shape[1]
    valid = np.arange(width)[None, :] < (2 * target_lengths + 1)[:, None]
    alpha = np.full((t_max,) + labels.shape, _NEG_INF)
    if t_max == 0:
        return alpha
    alpha[0, :, 0] = e[0, :, 0]
    has_label = target_lengths > 0
    alpha[0, has_label, 1] = e[0, has_label, 1]
    for t in range(1, t_max):
        prev = alpha[t - 1]
        one = np.concatenate([np.full((prev.shape[0], 1), _NEG_INF), prev[:, :-1]], axis=1)
        two = np.concatenate([np.full((prev.shape[0], 2), _NEG_INF), prev[:, :-2]], axis=1)
        two = np.where(skip, two, _NEG_INF)
        step = np.logaddexp(np.logaddexp(prev, one), two) + e[t]
        alpha[t] = np.where(valid & (t < input_lengths)[:, None], step, _NEG_INF)
    return alpha


def _betas(lp: np.ndarray, labels, skip, input_lengths, target_lengths) -> np.ndarray:
    """The backward variables (emission at t included), log space, (T, N, 2S+1)."""
    t_max = lp.shape[0]
    e = _emissions(lp, labels)
    n, width = labels.shape
    valid = np.arange(width)[None, :] < (2 * target_lengths + 1)[:, None]
    beta = np.full((t_max, n, width), _NEG_INF)
    rows = np.arange(n)
    last = 2 * target_lengths
    skip_from = np.concatenate([skip[:, 2:], np.zeros((n, 2), dtype=bool)], axis=1)  # s -> s+2 allowed
    for t in range(t_max - 1, -1, -1):
        start = np.full((n, width), _NEG_INF)
        ends = t == input_lengths - 1
        start[rows[ends], last[ends]] = e[t, rows[ends], last[ends]]
        has = ends & (target_lengths > 0)
        start[rows[has], last[has] - 1] = e[t, rows[has], last[has] - 1]
        if t + 1 < t_max:
            nxt = beta[t + 1]
            one = np.concatenate([nxt[:, 1:], np.full((n, 1), _NEG_INF)], axis=1)
            two = np.where(
                skip_from, np.concatenate([nxt[:, 2:], np.full((n, 2), _NEG_INF)], axis=1), _NEG_INF
            )
            inner = np.logaddexp(np.logaddexp(nxt, one), two) + e[t]
            inner = np.where(valid & (t < input_lengths - 1)[:, None], inner, _NEG_INF)
            start = np.where(ends[:, None], start, inner)
        beta[t] = start
    return beta


def _nll(alpha: np.ndarray, input_lengths, target_lengths) -> np.ndarray:
    n = alpha.shape[1]
    rows = np.arange(n)
    final = alpha[np.maximum(input_lengths - 1, 0), rows]  # (N, 2S+1)
    last = 2 * target_lengths
    total = final[rows, last]
    has = target_lengths > 0
    total[has] = np.logaddexp(total[has], final[rows[has], last[has] - 1])
    total[input_lengths == 0] = np.where(target_lengths[input_lengths == 0] == 0, 0.0, _NEG_INF)
    return -total


def _check(log_probs, targets, input_lengths, target_lengths) -> None:
    t_max, n = log_probs.shape[:2]
    if input_lengths.size and input_lengths.max() > t_max:
        raise RuntimeError(
            f"Expected input_lengths to have value at most {t_max}, but got value {input_lengths.max()} "
            "(while checking arguments for ctc_loss_allocate_outputs)"
        )
    if input_lengths.size and input_lengths.min() < 0:
        raise RuntimeError("ctc_loss: input_lengths must be non-negative")
    classes = log_probs.shape[2]
    if targets.size and (targets.min() < 0 or targets.max() >= classes):
        raise RuntimeError(f"ctc_loss: targets must be class indices in [0, {classes}), got {targets.max()}")
    if target_lengths.size and target_lengths.min() < 0:
        raise RuntimeError("ctc_loss: target_lengths must be non-negative")
    if target_lengths.size and target_lengths.max() > targets.shape[1]:
        raise RuntimeError(
            f"Expected tensor to have size at least {target_lengths.max()} at dimension 1, but got size "
            f"{targets.shape[1]} for argument #2 'targets' (while checking arguments for ctc_loss_allocate_outputs)"
        )


def _ctc_kernel(log_probs, targets, input_lengths, target_lengths, *, blank, zero_infinity):
    _check(log_probs, targets, input_lengths, target_lengths)
    lp = log_probs.astype(np.float64)
    labels, skip = _extended(targets.astype(np.int64), target_lengths, blank)
    nll = _nll(_alphas(lp, labels, skip, input_lengths, target_lengths), input_lengths, target_lengths)
    if zero_infinity:
        nll = np.where(np.isinf(nll), 0.0, nll)
    return nll.astype(log_probs.dtype)


def _ctc_grad_kernel(g, log_probs, targets, input_lengths, target_lengths, *, blank, zero_infinity):
    _check(log_probs, targets, input_lengths, target_lengths)
    lp = log_probs.astype(np.float64)
    t_max, n, classes = lp.shape
    labels, skip = _extended(targets.astype(np.int64), target_lengths, blank)
    alpha = _alphas(lp, labels, skip, input_lengths, target_lengths)
    beta = _betas(lp, labels, skip, input_lengths, target_lengths)
    nll = _nll(alpha, input_lengths, target_lengths)
    both = alpha + beta  # (T, N, 2S+1)
    summed = np.full((t_max, n, classes), _NEG_INF)
    rows = np.arange(n)
    with np.errstate(invalid="ignore"):
        for s in range(labels.shape[1]):
            c = labels[:, s]
            summed[:, rows, c] = np.logaddexp(summed[:, rows, c], both[:, :, s])
        grad = np.exp(lp) - np.exp(summed + nll[None, :, None] - lp)
    grad *= g.astype(np.float64)[None, :, None]
    grad[np.arange(t_max)[:, None] >= input_lengths[None, :]] = 0.0
    if zero_infinity:
        grad[:, np.isinf(nll)] = 0.0
    return grad.astype(log_probs.dtype)


def _infer_ctc(log_probs: Meta, targets: Meta, input_lengths: Meta, target_lengths: Meta, **attrs) -> Meta:
    if len(log_probs.shape) != 3 or log_probs.dtype.category != FLOAT:
        raise RuntimeError(
            f"ctc_loss: log_probs must be a float (T, N, C) tensor, got {fmt(log_probs.shape)}"
        )
    n = log_probs.shape[1]
    if len(targets.shape) != 2 or targets.shape[0] != n or targets.dtype.category != INT:
        raise RuntimeError(f"ctc_loss: targets must be an integer (N, S) tensor, got {fmt(targets.shape)}")
    for name, m in (("input_lengths", input_lengths), ("target_lengths", target_lengths)):
        if tuple(m.shape) != (n,) or m.dtype.category != INT:
            raise RuntimeError(f"ctc_loss: {name} must be an integer tensor of size {n}, got {fmt(m.shape)}")
    return Meta((n,), log_probs.dtype)


def _ctc_vjp(F, g, c):
    grad = F.ctc_loss_grad(g, *c.ins, **c.attrs)
    return grad, None, None, None


register(
    OpDef(
        "ctc_loss",
        Kind.LOSS,
        _ctc_kernel,
        _infer_ctc,
        _ctc_vjp,
        save_inputs=True,
        arity=4,
        raises=True,
        index_bounds=lambda metas, attrs: {
            1: metas[0].shape[2],
            2: metas[0].shape[0] + 1,
            3: metas[1].shape[1] + 1,
        },
        doc="Each sample's CTC negative log likelihood (N,): log_probs (T, N, C), padded targets (N, S) and "
        "the two length vectors; `blank`, `zero_infinity`.",
    )
)
register(
    OpDef(
        "ctc_loss_grad",
        Kind.LOSS,
        _ctc_grad_kernel,
        lambda g, log_probs, *rest, **attrs: Meta(tuple(log_probs.shape), log_probs.dtype),
        None,
        arity=5,
        raises=True,
        index_bounds=lambda metas, attrs: {
            2: metas[1].shape[2],
            3: metas[1].shape[0] + 1,
            4: metas[2].shape[1] + 1,
        },
        doc="The gradient of ctc_loss for the per-sample gradients `g` (N,): PyTorch's formula (see ctc.py).",
    )
)
