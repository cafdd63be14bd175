"""Finite-difference gradient checks (float64, no PyTorch) of every differentiable primitive.

``CASES`` maps each primitive op name to functions whose recorded graph must contain
that op; ``tests/test_registry.py`` asserts every op with a gradient rule is listed.
"""

from __future__ import annotations

import numpy as np
import pytest

import irgrad
from irgrad.autograd import gradcheck, gradgradcheck
from irgrad.dispatch import apply
from irgrad.ops import OPS

_rng = np.random.default_rng(7)


def R(*shape):
    """float64 normals kept away from 0 and from ties."""
    x = _rng.standard_normal(shape)  # (a small value moved away from 0, not set to one value: no ties)
    return irgrad.tensor(np.where(np.abs(x) < 0.1, x + np.copysign(0.3, x), x), requires_grad=True)


def DISTINCT(*shape):
    """float64 values at least 0.3 apart (no ties for max/argmax to break)."""
    values = _rng.permutation(int(np.prod(shape))).reshape(shape) * 0.3 - 1.0
    return irgrad.tensor(values, requires_grad=True)


def DISTINCT_APART(*shapes):
    """Tensors of ``shapes`` whose values are all at least 0.3 apart, across the tensors too."""
    sizes = [int(np.prod(s)) for s in shapes]
    values = _rng.permutation(sum(sizes)) * 0.3 - 1.0
    parts = np.split(values, np.cumsum(sizes)[:-1])
    return [irgrad.tensor(p.reshape(s), requires_grad=True) for p, s in zip(parts, shapes)]


def P(*shape):
    return irgrad.tensor(_rng.uniform(0.5, 2.0, shape), requires_grad=True)


def UNIT(*shape):
    """float64 values in (-0.9, 0.9): inside the domain of asin, acos and atanh."""
    return irgrad.tensor(_rng.uniform(-0.9, 0.9, shape), requires_grad=True)


def OFF(*shape):
    """Values at least 0.1 away from integers and half-integers (no jumps of floor/round)."""
    x = _rng.integers(-4, 4, shape) + _rng.uniform(0.1, 0.4, shape) + _rng.integers(0, 2, shape) * 0.5
    return irgrad.tensor(x, requires_grad=True)


def F64(*values):
    return irgrad.tensor(list(values), dtype=irgrad.float64, requires_grad=True)


def IDX(*values):
    return irgrad.tensor(list(values))


WINDOW = {"kernel": (2, 2), "stride": (2, 1), "dilation": (1, 2)}  # 4x5 image -> 2x3 windows


def window_columns_shape(image_shape: tuple) -> tuple:
    """The shape im2col gives an image (col2im's input), from im2col's own shape rule."""
    from irgrad.dtypes import float64
    from irgrad.ops import Meta

    return tuple(OPS["im2col"].infer(Meta(image_shape, float64), **WINDOW).shape)


TILES = {"kernel": (2, 2), "stride": (2, 2), "dilation": (1, 1)}  # windows that tile the image
OVERLAPS = {"kernel": (3, 3), "stride": (1, 1), "dilation": (1, 1)}  # windows that share pixels


def window_positions(pooled_shape: tuple, kernel: tuple) -> irgrad.Tensor:
    """Random int8 positions within each window (a max_pool_argmax result)."""
    return irgrad.tensor(_rng.integers(0, kernel[0] * kernel[1], pooled_shape).astype(np.int8))


CASES: dict[str, list] = {
    "neg": [(lambda x: -x, lambda: [R(2, 3)])],
    "abs": [(lambda x: x.abs(), lambda: [R(2, 3)])],
    "sign": [(lambda x: x.sign() * x, lambda: [R(2, 3)])],
    "floor": [(lambda x: x.floor() + x, lambda: [OFF(2, 3)])],
    "ceil": [(lambda x: x.ceil() * x, lambda: [OFF(2, 3)])],
    "round": [(lambda x: x.round() + x * 2, lambda: [OFF(2, 3)])],
    "trunc": [(lambda x: x.trunc() - x, lambda: [OFF(2, 3)])],
    "relu": [(lambda x: x.relu(), lambda: [R(2, 3)])],
    "exp": [(lambda x: x.exp(), lambda: [R(2, 3)])],
    "expm1": [(lambda x: x.expm1(), lambda: [R(2, 3)])],
    "log": [(lambda x: x.log(), lambda: [P(2, 3)])],
    "log1p": [(lambda x: x.log1p(), lambda: [P(2, 3)])],
    "sqrt": [(lambda x: x.sqrt(), lambda: [P(2, 3)])],
    "rsqrt": [(lambda x: x.rsqrt(), lambda: [P(2, 3)])],
    "reciprocal": [(lambda x: x.reciprocal(), lambda: [P(2, 3)])],
    "sin": [(lambda x: x.sin(), lambda: [R(2, 3)])],
    "cos": [(lambda x: x.cos(), lambda: [R(2, 3)])],
    "tan": [(lambda x: (x * 0.5).tan(), lambda: [R(2, 3)])],
    "tanh": [(lambda x: x.tanh(), lambda: [R(2, 3)])],
    "asin": [(lambda x: x.asin(), lambda: [UNIT(2, 3)])],
    "acos": [(lambda x: x.acos(), lambda: [UNIT(2, 3)])],
    "atan": [(lambda x: x.atan(), lambda: [R(2, 3)])],
    "sinh": [(lambda x: x.sinh(), lambda: [R(2, 3)])],
    "cosh": [(lambda x: x.cosh(), lambda: [R(2, 3)])],
    "asinh": [(lambda x: x.asinh(), lambda: [R(2, 3)])],
    "acosh": [(lambda x: (x + 1.0).acosh(), lambda: [P(2, 3)])],
    "atanh": [(lambda x: x.atanh(), lambda: [UNIT(2, 3)])],
    "sigmoid": [(lambda x: x.sigmoid(), lambda: [R(2, 3)])],
    "erf": [(lambda x: x.erf(), lambda: [R(2, 3)]), (lambda x: (x * 2).erf(), lambda: [R(4)])],
    "lgamma": [
        (lambda x: (x.abs() + 0.2).lgamma(), lambda: [R(2, 3)]),
        (lambda x: (x * 3).lgamma(), lambda: [R(4)]),
    ],
    "digamma": [(lambda x: (x.abs() + 0.2).digamma(), lambda: [R(2, 3)])],
    "polygamma": [(lambda x: (x.abs() + 0.3).polygamma(2), lambda: [R(2, 3)])],
    "erfinv": [(lambda x: (x * 0.3).erfinv(), lambda: [R(2, 3)])],
    "i0": [(lambda x: (x * 5).i0(), lambda: [R(2, 3)])],
    "igamma": [
        (lambda x: irgrad.igamma(irgrad.tensor([[0.5, 2.0, 30.0]]), x.abs() * 20 + 0.1), lambda: [R(2, 3)])
    ],
    "igammac": [
        (lambda x: irgrad.igammac(irgrad.tensor([[0.5, 2.0, 30.0]]), x.abs() * 20 + 0.1), lambda: [R(2, 3)])
    ],
    "i0e": [(lambda x: irgrad.special.i0e(x * 12), lambda: [R(2, 3)])],
    "i1": [(lambda x: irgrad.special.i1(x * 12), lambda: [R(2, 3)])],
    "i1e": [(lambda x: irgrad.special.i1e(x * 12), lambda: [R(2, 3)])],
    "ctc_loss": [
        (
            lambda x: irgrad.nn.functional.ctc_loss(
                x.log_softmax(2), irgrad.tensor([[1, 2, 2], [3, 1, 0]]), [6, 5], [3, 2], reduction="sum"
            ),
            lambda: [R(6, 2, 4)],
        )
    ],
    # float32 round-off needs a coarse step: the cast case passes its own gradcheck options
    "cast": [(lambda x: x.float().double() * x, lambda: [R(2, 3)], {"eps": 1e-2, "atol": 1e-4})],
    "add": [(lambda x, y: x + y, lambda: [R(2, 3), R(3)]), (lambda x: 2 + x, lambda: [R(2)])],
    "sub": [(lambda x, y: x - y, lambda: [R(2, 3), R(2, 1)]), (lambda x: 1 - x, lambda: [R(2)])],
    "mul": [(lambda x, y: x * y, lambda: [R(2, 3), R(3)])],
    "div": [(lambda x, y: x / y, lambda: [R(2, 3), P(2, 1)]), (lambda x: irgrad.div(2, x), lambda: [P(3)])],
    "pow": [
        (lambda x, y: x**y, lambda: [P(2, 3), R(2, 3)]),
        (lambda x: x**3, lambda: [R(2, 3)]),
        (lambda y: 2.0**y, lambda: [R(3)]),
    ],
    "maximum": [(lambda x, y: irgrad.maximum(x, y), lambda: [R(2, 3), R(2, 3)])],
    "minimum": [(lambda x, y: irgrad.minimum(x, y), lambda: [R(2, 3), R(3)])],
    "floor_divide": [(lambda x, y: x // y + x * y, lambda: [OFF(2, 3), P(2, 3)])],
    "remainder": [(lambda x, y: x % y, lambda: [F64(1.3, -2.7, 4.1), F64(0.9, 1.1, -1.9)])],
    "fmod": [(lambda x, y: irgrad.fmod(x, y), lambda: [F64(1.3, -2.7, 4.1), F64(0.9, 1.1, -1.9)])],
    "atan2": [(lambda x, y: irgrad.atan2(x, y), lambda: [R(2, 3), R(3)])],
    "copysign": [(lambda x, y: irgrad.copysign(x, y), lambda: [R(2, 3), R(3)])],
    "where": [(lambda x, y: irgrad.where(x > y, x, y * 2), lambda: [R(2, 3), R(3)])],
    # the complex primitives, between real pairs (tests/test_complex_*.py check complex inputs)
    "conj": [(lambda x: irgrad.view_as_real(irgrad.view_as_complex(x).conj() * (1 + 2j)), lambda: [R(3, 2)])],
    "view_as_real": [(lambda x: irgrad.view_as_real(irgrad.view_as_complex(x) ** 2), lambda: [R(2, 3, 2)])],
    "view_as_complex": [(lambda x: irgrad.view_as_complex(x).abs(), lambda: [R(4, 2)])],
    "fft_c2c": [(lambda x: irgrad.view_as_real(irgrad.fft.fft(x, norm="ortho")), lambda: [R(2, 5)])],
    "fft_r2c": [(lambda x: irgrad.view_as_real(irgrad.fft.rfft2(x)), lambda: [R(3, 4)])],
    "fft_c2r": [(lambda x: irgrad.fft.irfft(irgrad.view_as_complex(x), n=5), lambda: [R(2, 3, 2)])],
    "sum": [
        (lambda x: x.sum(1), lambda: [R(2, 3)]),
        (lambda x: x.sum((0, 2), keepdim=True), lambda: [R(2, 2, 3)]),
    ],
    "prod": [
        (lambda x: x.prod(1), lambda: [R(2, 3)]),
        (lambda x: x.prod(1), lambda: [F64([1.5, 0.0, 2.0], [0.0, 0.0, 3.0])]),
        (lambda x: x.prod(), lambda: [F64(2.0, 0.0, -3.0)]),
    ],
    "amax": [(lambda x: x.amax(1), lambda: [R(2, 3)]), (lambda x: x.max(), lambda: [R(3, 2)])],
    "amin": [(lambda x: x.amin((0, 1)), lambda: [R(2, 3)])],
    "logsumexp": [
        (lambda x: irgrad.logsumexp(x, 1), lambda: [R(2, 3)]),
        (lambda x: irgrad.logsumexp(x, (0, 2), keepdim=True) * x, lambda: [R(2, 2, 3)]),
        (lambda x: x.logsumexp(0), lambda: [F64([1e3, 1e3 + 1.0], [-1e3, 2.0])]),
    ],
    "cumsum": [(lambda x: x.cumsum(1), lambda: [R(2, 3)]), (lambda x: x.cumsum(0), lambda: [R(3)])],
    "lstm_cell": [
        (lambda g, c: irgrad.dispatch.apply(irgrad.ops.OPS["lstm_cell"], (g, c)), lambda: [R(3, 8), R(3, 2)]),
        (
            lambda g, c: irgrad.dispatch.apply(irgrad.ops.OPS["lstm_cell"], (g, c)).sin(),
            lambda: [R(2, 2, 4), R(2, 2, 1)],
        ),
    ],
    "lstm_scan": [
        (
            lambda gx, h0, c0, w, reverse=reverse: apply(
                OPS["lstm_scan"], (gx, h0, c0, w), {"reverse": reverse}
            ),
            lambda: [R(3, 2, 8), R(2, 2), R(2, 2), R(2, 8)],
        )
        for reverse in (False, True)
    ],
    "gru_scan": [
        (
            lambda gx, h0, w, b, reverse=reverse: apply(
                OPS["gru_scan"], (gx, h0, w, b), {"reverse": reverse}
            ),
            lambda: [R(3, 2, 6), R(2, 2), R(2, 6), R(2)],
        )
        for reverse in (False, True)
    ],
    "rnn_scan": [
        (
            lambda gx, h0, w, attrs=attrs: apply(OPS["rnn_scan"], (gx, h0, w), attrs),
            lambda: [R(3, 2, 4), R(2, 4), R(4, 4)],
        )
        for attrs in ({"nonlinearity": "tanh"}, {"nonlinearity": "relu", "reverse": True})
    ],
    "log_softmax": [
        (lambda x: irgrad.log_softmax(x, 1), lambda: [R(2, 3)]),
        (lambda x: x.log_softmax(0) * x, lambda: [R(3, 2)]),
    ],
    "softmax": [
        (lambda x: irgrad.softmax(x, -1), lambda: [R(2, 3)]),
        (lambda x: x.softmax(0).sin(), lambda: [R(4)]),
    ],
    "reshape": [(lambda x: x.reshape(3, 2) * 1, lambda: [R(2, 3)])],
    "permute": [(lambda x: x.permute(2, 0, 1), lambda: [R(2, 3, 2)])],
    "broadcast_to": [(lambda x: x.expand(3, 2, 3), lambda: [R(2, 1)])],
    "slice": [(lambda x: x[1:, ::2], lambda: [R(3, 4)]), (lambda x: x.narrow(1, 1, 2), lambda: [R(2, 4)])],
    "slice_grad": [
        (
            lambda g: apply(OPS["slice_grad"], (g,), {"shape": (3, 4), "index": (slice(1, 3, 1), 2)}),
            lambda: [R(2)],
        )
    ],
    "diagonal": [
        (lambda x: x.diagonal(1, 2, 0), lambda: [R(3, 2, 4)]),
        (lambda x: x.diagonal(-1), lambda: [R(3, 4)]),
    ],
    "diagonal_grad": [(lambda x: irgrad.diag_embed(x, -1, 0, 2), lambda: [R(2, 3)])],
    "unfold": [
        (lambda x: x.unfold(1, 3, 1), lambda: [R(2, 5)]),
        (lambda x: x.unfold(0, 2, 3), lambda: [R(7, 2)]),
    ],
    "unfold_grad": [
        (
            lambda g: apply(OPS["unfold_grad"], (g,), {"shape": (2, 5), "dim": 1, "size": 3, "step": 1}),
            lambda: [R(2, 3, 3)],
        )
    ],
    "index": [(lambda x: x[IDX(0, 2, 0)], lambda: [R(3, 2)]), (lambda x: x[x > 0], lambda: [R(3, 2)])],
    "index_grad": [
        (
            lambda g: apply(OPS["index_grad"], (g, IDX(0, 2, 0)), {"shape": (3, 2), "spec": (Ellipsis,)}),
            lambda: [R(3, 2)],
        )
    ],
    # a position written twice (0) keeps the last value; each value gets its position's gradient
    "index_put": [
        (
            lambda x, v: apply(OPS["index_put"], (x, v, IDX(0, 2, 0)), {"spec": (Ellipsis,)}),
            lambda: [R(3, 2), R(3, 2)],
        )
    ],
    "gather": [(lambda x: x.gather(1, irgrad.tensor([[0, 0], [2, 1]])), lambda: [R(2, 3)])],
    "embedding": [
        (lambda w: irgrad.nn.functional.embedding(IDX(0, 2, 0, 3), w), lambda: [R(4, 3)]),
    ],
    # rebind(new, old) sends new's gradient to old: checkable where the two are one value
    "rebind": [(lambda a: apply(OPS["rebind"], (a, a), {}), lambda: [R(3, 2)])],
    "assert_range": [
        (
            lambda x: apply(
                OPS["assert_range"], (x,), {"low": -9.0, "high": 9.0, "error": "RuntimeError", "message": "x"}
            ),
            lambda: [R(3, 2)],
        )
    ],
    "embedding_grad": [
        (
            lambda g: apply(OPS["embedding_grad"], (g, IDX(0, 2, 0)), {"rows": 4, "padding_idx": None}),
            lambda: [R(3, 5)],
        )
    ],
    "scatter_add": [
        (lambda x, s: x.scatter_add(1, irgrad.tensor([[0, 0], [2, 1]]), s), lambda: [R(2, 3), R(2, 2)]),
        (lambda x, s: x.scatter_add(0, irgrad.tensor([[1], [0]]), s), lambda: [R(2, 3), R(2, 2)]),
    ],
    "scatter": [
        (lambda x, s: x.scatter(1, irgrad.tensor([[0, 2], [2, 1]]), s), lambda: [R(2, 3), R(2, 3)]),
        (lambda x, s: x.index_copy(0, irgrad.tensor([2, 0]), s), lambda: [R(3, 2), R(2, 2)]),
    ],
    "scatter_reduce": [
        (
            lambda x, s, reduce=reduce, keep=keep: x.scatter_reduce(
                0, irgrad.tensor([[0, 2], [0, 0], [1, 2]]), s, reduce, include_self=keep
            ),
            lambda: DISTINCT_APART((3, 2), (3, 3)),
        )
        for reduce in ("amax", "amin")
        for keep in (True, False)
    ]
    + [
        (
            lambda x, s, keep=keep: x.scatter_reduce(
                1, irgrad.tensor([[0, 0, 1], [2, 2, 2]]), s, "prod", include_self=keep
            ),
            lambda: [R(2, 3), F64(0.5, 0.0, 1.5, 2.0, 0.0, -1.0).reshape(2, 3).detach().requires_grad_()],
        )
        for keep in (True, False)
    ],
    "cumprod": [
        (lambda x: x.cumprod(1), lambda: [R(2, 4)]),
        (lambda x: x.cumprod(0), lambda: [F64(0.5, 0.0, 2.0, 0.0, 3.0)]),
        (
            lambda x: x.cumprod(-1),
            lambda: [F64(0.0, 1.5, -2.0, 2.0, 1.5, 0.0).reshape(2, 3).detach().requires_grad_()],
        ),
    ],
    "cat": [
        (lambda x, y: irgrad.cat([x, y], 1), lambda: [R(2, 3), R(2, 1)]),
        (lambda x, y: irgrad.stack([x, y]), lambda: [R(2), R(2)]),
    ],
    "flip": [(lambda x: x.flip((0, 1)), lambda: [R(2, 3)])],
    "pad": [(lambda x: irgrad.tensor_ops.padding.pad(x, (1, 2, 0, 1), value=3.0), lambda: [R(2, 3)])],
    "copy": [(lambda x: x.clone(), lambda: [R(2, 3)]), (lambda x: x.t().contiguous(), lambda: [R(2, 3)])],
    "matmul": [
        (lambda a, b: a @ b, lambda: [R(2, 3), R(3, 2)]),
        (lambda a, b: a @ b, lambda: [R(3), R(2, 3, 2)]),
        (lambda a, b: a @ b, lambda: [R(2, 1, 2, 3), R(2, 3, 2)]),
    ],
    "linear": [
        (lambda x, w, b: irgrad.nn.functional.linear(x, w, b), lambda: [R(4, 3), R(2, 3), R(2)]),
        (lambda x, w: irgrad.nn.functional.linear(x, w), lambda: [R(2, 3, 3), R(2, 3)]),
        (lambda x, w, b: irgrad.nn.functional.linear(x, w, b), lambda: [R(2, 1, 2, 3), R(2, 3), R(2)]),
    ],
    "nll_loss": [
        (lambda x: irgrad.nn.functional.nll_loss(x, irgrad.tensor([0, 2, -100, 1])), lambda: [R(4, 3)]),
        (
            lambda x: irgrad.nn.functional.nll_loss(x, irgrad.tensor([[0, 2], [1, 1]]), reduction="none"),
            lambda: [R(2, 3, 2)],
        ),
        (lambda x: irgrad.nn.functional.cross_entropy(x, irgrad.tensor(1), reduction="sum"), lambda: [R(3)]),
    ],
    "nll_loss_grad": [
        (
            lambda g, r=r: apply(
                OPS["nll_loss_grad"],
                (g, IDX(0, 2, -100, 1)),
                {"shape": (4, 3), "ignore_index": -100, "reduction": r},
            ),
            lambda: [R()],
        )
        for r in ("sum", "mean")
    ]
    + [
        (
            lambda g: apply(
                OPS["nll_loss_grad"],
                (g, irgrad.tensor([[0, 2], [1, -1]])),
                {"shape": (2, 3, 2), "ignore_index": -1, "reduction": "none"},
            ),
            lambda: [R(2, 2)],
        )
    ],
    "einsum": [
        (lambda a, b: irgrad.einsum("ij,jk->ik", a, b), lambda: [R(2, 3), R(3, 2)]),
        (lambda a, b: irgrad.einsum("ij,kj->k", a, b), lambda: [R(2, 3), R(2, 3)]),
        (lambda a, b, c: irgrad.einsum("i,ij,j->", a, b, c), lambda: [R(2), R(2, 3), R(3)]),
    ],
    "im2col": [
        (lambda x: apply(OPS["im2col"], (x,), WINDOW), lambda: [R(1, 2, 4, 5)]),
        (lambda x: apply(OPS["im2col"], (x,), {**WINDOW, "layout": "cols"}), lambda: [R(1, 2, 4, 5)]),
    ],
    "col2im": [
        (
            lambda c: apply(OPS["col2im"], (c,), {"shape": (1, 2, 4, 5), **WINDOW}),
            lambda: [R(*window_columns_shape((1, 2, 4, 5)))],
        ),
        (
            lambda c: apply(OPS["col2im"], (c,), {"shape": (1, 2, 4, 5), **WINDOW, "layout": "cols"}),
            lambda: [R(*window_columns_shape((1, 2, 4, 5))).transpose(1, 2).contiguous()],
        ),
    ],
    "relu_grad": [
        (
            lambda g: apply(
                OPS["relu_grad"], (g, irgrad.tensor([[2.0, 0.0, -1.0], [0.5, float("nan"), -0.0]]))
            ),
            lambda: [R(2, 3)],
        ),
    ],
    "max_pool": [
        (lambda x, w=w: apply(OPS["max_pool"], (x,), w), lambda shape=shape: [DISTINCT(*shape)])
        for w, shape in ((WINDOW, (1, 2, 4, 5)), (TILES, (2, 1, 4, 6)), (OVERLAPS, (1, 2, 5, 4)))
    ],
    "max_pool_scatter": [
        (
            lambda g, w=w, image=image, positions=window_positions(pooled, w["kernel"]): apply(
                OPS["max_pool_scatter"], (g, positions), {"shape": image, **w}
            ),
            lambda pooled=pooled: [R(*pooled)],
        )
        for w, image, pooled in (
            (WINDOW, (1, 2, 4, 5), (1, 2, 2, 3)),
            (TILES, (2, 1, 4, 6), (2, 1, 2, 3)),
            (OVERLAPS, (1, 2, 5, 4), (1, 2, 3, 2)),
        )
    ],
}


def MATRIX(*shape):
    """float64 square matrices, diagonally dominant enough to be far from singular."""
    x = _rng.standard_normal(shape) + shape[-1] * np.eye(shape[-1])
    return irgrad.tensor(x, requires_grad=True)


def SINGULAR():
    """Matrices of rank 2 and 1 (3x3): det's gradient, the cofactors, is still defined there."""
    x = np.array([[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]], [[1.0, 2.0, 0.5]] * 3])
    return [irgrad.tensor(x, requires_grad=True)]


def _spd(x):
    return x @ x.mT + 3 * irgrad.eye(x.shape[-1], dtype=x.dtype)


CASES.update(
    {
        "inv": [(lambda a: irgrad.linalg.inv(a), lambda: [MATRIX(2, 3, 3)])],
        "det": [(lambda a: irgrad.linalg.det(a), lambda: [MATRIX(2, 3, 3)]), (irgrad.det, SINGULAR)],
        "cofactor": [(lambda a: apply(OPS["cofactor"], (a,)), lambda: [MATRIX(2, 3, 3)])],
        "slogdet": [(lambda a: irgrad.linalg.slogdet(a).logabsdet, lambda: [MATRIX(2, 3, 3)])],
        "solve": [
            (lambda a, b: irgrad.linalg.solve(a, b), lambda: [MATRIX(2, 3, 3), R(2, 3, 2)]),
            (lambda a, b: irgrad.linalg.solve(a, b), lambda: [MATRIX(2, 3, 3), R(2, 3)]),
            (lambda a, b: irgrad.linalg.solve(a, b, left=False), lambda: [MATRIX(3, 3), R(2, 4, 3)]),
        ],
        "cholesky": [
            (lambda x: irgrad.linalg.cholesky(_spd(x)), lambda: [R(2, 3, 3)]),
            (lambda x: irgrad.linalg.cholesky(_spd(x), upper=True), lambda: [R(3, 3)]),
        ],
        "cholesky_ex": [(lambda x: irgrad.linalg.cholesky_ex(_spd(x)).L, lambda: [R(2, 3, 3)])],
        "solve_triangular": [
            (
                lambda a, b: irgrad.linalg.solve_triangular(a, b, upper=True),
                lambda: [MATRIX(2, 3, 3), R(2, 3, 2)],
            ),
            (
                lambda a, b: irgrad.linalg.solve_triangular(
                    a, b, upper=False, left=False, unitriangular=True
                ),
                lambda: [MATRIX(3, 3), R(2, 4, 3)],
            ),
        ],
        "lu_factor": [
            (lambda a: irgrad.linalg.lu_factor(a).LU, lambda: [MATRIX(2, 3, 3)]),
            (lambda a: irgrad.linalg.lu_factor(a).LU, lambda: [R(2, 4, 3)]),
            (lambda a: irgrad.linalg.lu_factor(a).LU, lambda: [R(3, 5)]),
        ],
        "matrix_exp": [(lambda a: irgrad.linalg.matrix_exp(a), lambda: [R(2, 3, 3)])],
    }
)


def _svd_invariants(full_matrices):
    """Functions of the SVD that do not depend on the signs of the singular vectors: the
    squares of ``U``'s and ``Vh``'s determined entries, and ``U diag(S^2) Vh``."""

    def fn(a):
        u, s, vh = irgrad.linalg.svd(a, full_matrices=full_matrices)
        k = s.shape[-1]
        u, vh = u[..., :k], vh[..., :k, :]
        return irgrad.cat(
            [(u * u).flatten(), (vh * vh).flatten(), (u * s.square().unsqueeze(-2) @ vh).flatten()]
        )

    return fn


def _symmetric(a):
    return a + a.mT


def _eigh_invariants(a):
    values, vectors = irgrad.linalg.eigh(_symmetric(a))
    return irgrad.cat([values.flatten(), (vectors * vectors).flatten()])


CASES.update(
    {
        "svd": [
            (_svd_invariants(False), lambda: [R(2, 4, 3)]),
            (_svd_invariants(False), lambda: [R(3, 5)]),
            (_svd_invariants(True), lambda: [R(4, 3)]),
            (_svd_invariants(True), lambda: [R(2, 3, 3)]),
        ],
        "svdvals": [
            (lambda a: irgrad.linalg.svdvals(a), lambda: [R(2, 4, 3)]),
            (lambda a: irgrad.linalg.svdvals(a), lambda: [R(3, 5)]),
        ],
        "eigh": [(_eigh_invariants, lambda: [R(2, 3, 3)])],
        "eigvalsh": [(lambda a: irgrad.linalg.eigvalsh(_symmetric(a), UPLO="U"), lambda: [R(2, 3, 3)])],
        "qr": [
            (lambda a: irgrad.cat([x.flatten() for x in irgrad.linalg.qr(a)]), lambda: [R(2, 4, 3)]),
            (lambda a: irgrad.cat([x.flatten() for x in irgrad.linalg.qr(a)]), lambda: [R(3, 5)]),
            (lambda a: irgrad.cat([x.flatten() for x in irgrad.linalg.qr(a, "complete")]), lambda: [R(3, 3)]),
        ],
        "pinv": [
            (lambda a: irgrad.linalg.pinv(a), lambda: [R(2, 4, 3)]),
            (lambda a: irgrad.linalg.pinv(a), lambda: [R(3, 5)]),
            (lambda a: irgrad.linalg.pinv(_symmetric(a), hermitian=True), lambda: [R(2, 3, 3)]),
        ],
    }
)


# Composites: their gradients come from the primitives, but check the whole formula.
COMPOSITES = [
    (lambda x: x.mean(0), lambda: [R(2, 3)]),
    (lambda x: x.var(1), lambda: [R(2, 3)]),
    (lambda x: x.std(correction=0), lambda: [R(2, 3)]),
    (lambda x: irgrad.softmax(x, 1), lambda: [R(2, 3)]),
    (lambda x: irgrad.log_softmax(x, 0), lambda: [R(2, 3)]),
    (lambda x: x.max(1).values, lambda: [R(2, 3)]),
    (lambda x: x.min(0)[0], lambda: [R(2, 3)]),
    (lambda x: irgrad.clamp(x, -0.5, 0.5), lambda: [R(2, 3)]),
    (lambda x: x.masked_fill(x > 0, 0.0), lambda: [R(2, 3)]),
    (lambda x: irgrad.outer(x, x), lambda: [R(3)]),
    (lambda x, y: irgrad.dot(x, y), lambda: [R(3), R(3)]),
    (lambda x, y: irgrad.bmm(x, y), lambda: [R(2, 2, 3), R(2, 3, 2)]),
    (lambda x: x.repeat(2, 1), lambda: [R(2, 3)]),
    (lambda x: x.index_select(0, irgrad.tensor([1, 1])), lambda: [R(2, 3)]),
    (lambda x: x.chunk(2, 1)[1], lambda: [R(2, 4)]),
    (lambda x: x.split([1, 2], 0)[1], lambda: [R(3, 2)]),
    (lambda x: x.norm(), lambda: [R(2, 3)]),
    (lambda x: x.square().unsqueeze(0).squeeze(), lambda: [R(2, 3)]),
]


def _graph_ops(out) -> set:
    seen, names, stack = set(), set(), [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        op = getattr(node, "op", None)
        if op is not None:
            names.add(op.name)
        stack.extend(fn for fn, _ in getattr(node, "next_functions", ()))
    return names


@pytest.mark.parametrize(
    "name,fn,make,options",
    [
        pytest.param(name, c[0], c[1], c[2] if len(c) > 2 else {}, id=f"{name}-{i}")
        for name, cases in CASES.items()
        for i, c in enumerate(cases)
    ],
)
def test_gradcheck_primitive(name, fn, make, options):
    inputs = make()
    out = fn(*inputs)
    assert name in _graph_ops(out), f"the case for {name} does not run {name}: {_graph_ops(out)}"
    assert gradcheck(fn, inputs, **options)


@pytest.mark.parametrize("fn,make", COMPOSITES)
def test_gradcheck_composite(fn, make):
    assert gradcheck(fn, make())


@pytest.mark.parametrize(
    "fn,make",
    [
        CASES["mul"][0],
        CASES["div"][0],
        CASES["exp"][0],
        CASES["tanh"][0],
        *(CASES[name][0] for name in ("asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh")),
        CASES["sigmoid"][0],
        CASES["matmul"][0],
        CASES["linear"][0],
        CASES["nll_loss"][0],
        CASES["sum"][0],
        CASES["erf"][0],
        CASES["log"][0],
        CASES["sqrt"][0],
        CASES["amax"][0],
        CASES["cumsum"][0],
        CASES["pow"][0],
        CASES["cumprod"][1],
        CASES["cumprod"][2],
        CASES["scatter_reduce"][0],
        CASES["scatter_reduce"][4],
        CASES["scatter"][0],
        CASES["lstm_scan"][0],
        CASES["lstm_scan"][1],
        CASES["rnn_scan"][0],
        CASES["gru_scan"][0],
    ],
)
def test_gradgradcheck(fn, make):
    assert gradgradcheck(fn, make())


# the scans' gradient ops refuse a gradient of their own with a clear error
# (tests/test_recurrent_scan.py):
# lstm_scan's rule computes with differentiable ops under create_graph instead
COVERED = frozenset(CASES) | {"lstm_scan_backward", "gru_scan_backward", "rnn_scan_backward"}


# --- erf kernel accuracy (known values: math.erf is correctly rounded in float64) ------------


def test_erf_kernel_accuracy_float64():
    import math

    rng = np.random.default_rng(11)
    x = np.concatenate(
        [
            rng.uniform(-7, 7, 20000),
            rng.standard_normal(5000) * 1e-3,
            np.sign(rng.standard_normal(500)) * 10.0 ** rng.uniform(-320, 0, 500),
            np.nextafter(np.array([1.0, 6.0, -1.0, -6.0]), 0.0),
            [0.0, -0.0, 1.0, -1.0, 6.0, -6.0, 27.0, -1e300, 5e-324],
        ]
    )
    got = irgrad.erf(irgrad.tensor(x, dtype=irgrad.float64)).numpy()
    want = np.array([math.erf(v) for v in x])
    rel = np.abs(got - want) / np.maximum(np.abs(want), np.finfo(np.float64).tiny)
    assert rel.max() < 1e-15, (x[rel.argmax()], rel.max())
    assert np.signbit(got[x == 0]).tolist() == np.signbit(x[x == 0]).tolist()


def test_erf_special_values_and_dtypes():
    special = irgrad.tensor([np.nan, np.inf, -np.inf], dtype=irgrad.float64).erf().numpy()
    assert np.isnan(special[0]) and special[1:].tolist() == [1.0, -1.0]
    x32 = irgrad.tensor([0.5, -2.0, 3.0])
    assert x32.erf().dtype is irgrad.float32
    np.testing.assert_allclose(x32.erf().numpy(), [0.5204998778, -0.9953222650, 0.9999779095], rtol=1e-7)
    assert irgrad.tensor(0.5).erf().shape == ()
    assert irgrad.tensor([1, 2]).erf().dtype is irgrad.float32
