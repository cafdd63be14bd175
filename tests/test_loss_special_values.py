"""Loss functions at special floats (NaN, ±inf, ±0, huge, tiny) against PyTorch.

``test_nn_losses.py`` checks the losses on well-behaved random data; this sweep feeds
``irgrad.nn.functional``'s losses the values where their formulas usually go wrong
(``log(0)``, ``0 * log(0)``, ``inf - inf`` in a stable softplus, a row of ``-inf``
logits, an ignored target next to a NaN row) and checks the values and the gradients of
every floating input PyTorch differentiates (the input, and the target where PyTorch has
a derivative for it) against ``torch.nn.functional``.

A case's inputs are every combination of one value from each of its axes (an axis is a
sequence of floats, of float rows such as logit vectors, or of ints, kept int64 as class
indices), one input case per row.  With ``reduction='none'`` each row's loss is its own
element; one ``'mean'`` case per loss checks the reduction on the same rows.  Every
float input is a leaf, so each row's gradient is its own.  Gradients are of the sum of
the output.  A failure lists the inputs of the offending rows with both results.

Where PyTorch itself is wrong and irgrad should not copy it, the affected rows are listed
in ``QUIRKS``: ``test_loss_special_values`` leaves them out and
``test_known_difference`` checks them alone as a strict xfail.  A loss irgrad lacks
skips, naming it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from special_values_compare import DTYPES, compare_all, known_rows

import irgrad

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),  # numpy's inf/nan warnings
    pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning"),  # kl_div's mean
]

NAN, INF = math.nan, math.inf
SPECIALS = (NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e30, -1e-30)
PROBS = (0.0, 1.0, 0.5, 1e-30, 1 - 1e-7)  # binary_cross_entropy's inputs must be in [0, 1]
SOFT_TARGETS = (0.0, 1.0, 0.3)
LOGITS = (INF, -INF, 100.0, -100.0, 0.0, 1e-30, -1e-30, NAN, 2.5)
SIGNS = (1.0, -1.0)
KL_TARGETS = (0.0, 1.0, 0.5, 1e-30, 2.5, INF, NAN)  # probabilities (and beyond), never < 0
COUNTS = (0.0, 1.0, 2.5, 1e30, INF, NAN)  # poisson targets
VARIANCES = (1.0, 0.5, 0.0, 1e-30, INF, NAN)
LOGIT_ROWS = (  # cross_entropy's logits and nll_loss's log-probabilities, 3 classes
    (0.0, 1.0, -2.5),
    (-INF, 0.0, 1.0),
    (INF, 0.0, 1.0),
    (NAN, 0.0, 1.0),
    (1e30, 0.0, -1e30),
    (1e30, 1e30, 0.0),
    (INF, INF, 0.0),
    (-INF, -INF, 0.0),
    (-INF, -INF, -INF),
    (1e-30, -1e-30, -0.0),
)
IGNORE = -100  # the default ignore_index
CLASSES = (0, 1, 2, IGNORE)
PROB_ROWS = ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.2, 0.3, 0.5))
VECTORS = (  # cosine_embedding_loss's embeddings
    (1.0, 0.0),
    (-2.5, 0.5),
    (0.0, 0.0),
    (NAN, 1.0),
    (INF, 1.0),
    (1e30, 1e30),
    (1e-30, -1e-30),
)


def _inputs(axes: tuple, dtype: str) -> list[np.ndarray]:
    """One array per axis: every combination of one value from each axis, a row each."""
    values = [np.asarray(axis) for axis in axes]
    index = np.meshgrid(*(np.arange(len(v)) for v in values), indexing="ij")
    return [(v if v.dtype.kind == "i" else v.astype(dtype))[i.ravel()] for v, i in zip(values, index)]


def case(case_id: str, axes: tuple, fn, *, needs: str, grads: tuple[int, ...] | None = None):
    """A test case: ``fn(lib, *tensors)`` on the combinations of ``axes``; irgrad must have
    ``nn.functional.<needs>``; ``grads`` are the indices of the inputs made leaves that
    require grad (by default every float input)."""
    return case_id, (axes, fn, needs, grads)


def loss(name: str, axes: tuple, *, tag: str = "", reduction: str = "none", grads=None, **kwargs):
    """The case calling ``name(*inputs, reduction=reduction, **kwargs)``; ``tag`` tells
    apart cases of one loss with the same options."""
    suffix = tag + "".join(f"-{k}={v}" for k, v in kwargs.items())
    suffix += "" if reduction == "none" else f"-{reduction}"
    return case(
        name + suffix,
        axes,
        lambda lib, *xs: getattr(lib.nn.functional, name)(*xs, reduction=reduction, **kwargs),
        needs=name,
        grads=grads,
    )


def losses(name: str, axes: tuple, *options: dict, grads=None):
    """``name`` with ``reduction='none'`` for each of ``options``, then one ``'mean'`` case."""
    return [loss(name, axes, grads=grads, **kw) for kw in options or ({},)] + [
        loss(name, axes, reduction="mean", grads=grads)
    ]


def _bce_pos_weight(reduction: str):
    """binary_cross_entropy_with_logits with a (constant, not differentiated) pos_weight of 3."""
    return case(
        "binary_cross_entropy_with_logits-pos_weight=3" + ("" if reduction == "none" else "-mean"),
        (LOGITS, SOFT_TARGETS),
        lambda lib, x, y: lib.nn.functional.binary_cross_entropy_with_logits(
            x, y, pos_weight=lib.full_like(x.detach(), 3.0), reduction=reduction
        ),
        needs="binary_cross_entropy_with_logits",
    )


PAIR = (SPECIALS, SPECIALS)
CASES_LIST = [
    *losses("mse_loss", PAIR),
    *losses("l1_loss", PAIR),
    *losses("smooth_l1_loss", PAIR, {"beta": 1.0}, {"beta": 0.5}),
    *losses("huber_loss", PAIR, {"delta": 1.0}, {"delta": 2.0}),
    *losses("binary_cross_entropy", (PROBS, SOFT_TARGETS)),
    *losses("binary_cross_entropy_with_logits", (LOGITS, SOFT_TARGETS)),
    _bce_pos_weight("none"),
    _bce_pos_weight("mean"),
    *losses("cross_entropy", (LOGIT_ROWS, CLASSES), {}, {"label_smoothing": 0.1}),
    loss("cross_entropy", (LOGIT_ROWS, PROB_ROWS), tag="-probs"),
    loss("cross_entropy", (LOGIT_ROWS, PROB_ROWS), tag="-probs", label_smoothing=0.1),
    loss("cross_entropy", (LOGIT_ROWS, PROB_ROWS), tag="-probs", reduction="mean"),
    *losses("nll_loss", (LOGIT_ROWS, CLASSES)),
    *losses("kl_div", (SPECIALS, KL_TARGETS), {"log_target": False}),
    loss("kl_div", PAIR, log_target=True),
    *losses("poisson_nll_loss", (SPECIALS, COUNTS), {"log_input": True}, {"log_input": False}),
    *losses("soft_margin_loss", PAIR, grads=(0,)),  # torch: no derivative for the target
    *losses("margin_ranking_loss", (SPECIALS, SPECIALS, SIGNS)),
    *losses("hinge_embedding_loss", (SPECIALS, SIGNS)),
    *losses("cosine_embedding_loss", (VECTORS, VECTORS, SIGNS)),
    *losses("gaussian_nll_loss", (SPECIALS, (0.0, 1.0, INF, NAN), VARIANCES)),
]
CASES = dict(CASES_LIST)
assert len(CASES) == len(CASES_LIST), "duplicate case ids"


# --- PyTorch quirks: (case id, dtypes, predicate on the input rows, why not to copy it) ----

SIGN_OF_NAN = (
    "torch's l1_loss backward is sign(input - target), and torch.sign(nan) is 0 "
    "(pytorch/pytorch#41245, open; numpy and IEEE NaN propagation give NaN): where the "
    "difference is NaN torch's gradients are 0 where irgrad's are NaN, as for torch.abs"
)
BCE_TARGET_GRAD = (
    "torch clamps binary_cross_entropy's logs at -100, so at input 0 or 1 its loss is "
    "finite and linear in the target with slope ±100, but its target backward is the "
    "unclamped -logit(input) = ±inf; irgrad gives ±100, the derivative of the loss both compute"
)
KL_ZERO_TARGET = (
    "torch's kl_div is xlogy(target, target) - target * input, and xlogy's backward with "
    "respect to its second argument is target / target, 0 / 0 at target 0: a NaN target "
    "gradient at the one target value the loss defines specially (0 log 0 = 0), which would "
    "poison everything upstream; irgrad holds 0 log 0 at its limit 0 and gives -input"
)
QUIRKS = [
    *(
        (name, DTYPES, lambda r: np.isnan(r[:, 0] - r[:, 1]), SIGN_OF_NAN)
        for name in ("l1_loss", "l1_loss-mean")
    ),
    *(
        (name, DTYPES, lambda r: (r[:, 0] == 0) | (r[:, 0] == 1), BCE_TARGET_GRAD)
        for name in ("binary_cross_entropy", "binary_cross_entropy-mean")
    ),
    *(
        (name, DTYPES, lambda r: r[:, 1] == 0, KL_ZERO_TARGET)
        for name in ("kl_div-log_target=False", "kl_div-mean")
    ),
    *(
        (
            name,
            DTYPES,
            lambda r: np.isposinf(np.exp(-r[:, 0] * r[:, 1])),
            "torch's soft_margin_loss is log1p(exp(-target * input)) with backward "
            "-target * z / (1 + z), z = exp(-target * input): once z overflows the loss is inf "
            "(finite -target * input for large finite margins, e.g. input -1, target 1e30) and "
            "the gradient inf / inf = NaN (±|target|); irgrad's softplus and sigmoid do not overflow",
        )
        for name in ("soft_margin_loss", "soft_margin_loss-mean")
    ),
]


# --- running and comparing --------------------------------------------------------------


def _run(lib, fn, arrays: list[np.ndarray], grads: tuple[int, ...] | None):
    """The loss of ``fn`` on fresh tensors, and the gradients of its sum (None where the
    input is no leaf that requires grad)."""
    wrt = [a.dtype.kind == "f" and (grads is None or i in grads) for i, a in enumerate(arrays)]
    leaves = [lib.tensor(a, requires_grad=g) for a, g in zip(arrays, wrt)]
    out = fn(lib, *leaves)
    if any(wrt):
        out.backward(lib.ones_like(out))
    return out, [leaf.grad for leaf in leaves]


def _check(case_id: str, dtype: str, quirks: bool) -> None:
    """Run the case on its whole input; compare the quirk rows (``quirks``) or all others.

    Both libraries always see the whole input; only the comparison is restricted.
    """
    axes, fn, needs, grads = CASES[case_id]
    if not hasattr(irgrad.nn.functional, needs):
        pytest.skip(f"irgrad has no nn.functional.{needs}")
    arrays = _inputs(axes, dtype)
    theirs, their_grads = _run(torch, fn, arrays, grads)
    mine, my_grads = _run(irgrad, fn, arrays, grads)
    rows = known_rows(case_id, dtype, arrays, QUIRKS) == quirks
    if not rows.any():
        pytest.skip("every input row of this case is a listed PyTorch quirk")
    pairs = [("loss", mine, theirs)]
    pairs += [(f"gradient of input {k}", m, t) for k, (m, t) in enumerate(zip(my_grads, their_grads))]
    compare_all(pairs, arrays, rows, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case_id", CASES)
def test_loss_special_values(case_id, dtype):
    _check(case_id, dtype, quirks=False)


@pytest.mark.parametrize(
    "case_id, dtype",
    [
        pytest.param(
            case_id, dtype, id=f"{case_id}-{dtype}", marks=pytest.mark.xfail(strict=True, reason=why)
        )
        for case_id, dtypes, _, why in QUIRKS
        for dtype in dtypes
    ],
)
def test_known_difference(case_id, dtype):
    """The rows of a PyTorch quirk still differ (strict xfail: a change on either side
    makes this fail, so the entry gets revisited)."""
    _check(case_id, dtype, quirks=True)
