"""Generic checks over every primitive in the op registry.

* ``op.infer`` (the shape/dtype rule the tracer and verifier use) agrees with the
  shape and dtype of ``op.eval``'s output on sample inputs of every dtype;
* every op with a gradient rule has a finite-difference test in ``test_ops_gradcheck``,
  so a new differentiable op without a test fails here.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_ops_gradcheck import COVERED, WINDOW, window_columns_shape

from irgrad import dtypes as D
from irgrad.ops import OPS, Kind, Meta

DTYPES = [D.float32, D.float64, D.int64, D.int32, D.uint8, D.bool_, D.float16]
_rng = np.random.default_rng(3)


def sample(shape, dt):
    x = _rng.uniform(0.5, 3.0, shape)
    return (x > 1.5) if dt is D.bool_ else x.astype(dt.np)


def idx(*values):
    return np.array(values, dtype=np.int64)


F = D.float32
SAMPLES = {
    "cast": [((sample((2, 3), F),), {"dtype": D.int64}), ((sample((2,), D.bool_),), {"dtype": D.float64})],
    "full_like": [((sample((2, 3), F),), {"value": 2.0}), ((sample((3,), D.int64),), {"value": 1})],
    "where": [((sample((2, 3), D.bool_), sample((3,), dt), sample((2, 1), dt)), {}) for dt in DTYPES],
    "sum": [
        ((sample((2, 3, 4), dt),), {"dims": (0, 2), "keepdim": k}) for dt in DTYPES for k in (False, True)
    ],
    "prod": [((sample((2, 3), dt),), {"dims": (1,), "keepdim": False}) for dt in DTYPES],
    "amax": [((sample((2, 3), dt),), {"dims": (0,), "keepdim": True}) for dt in DTYPES],
    "amin": [((sample((2, 3), dt),), {"dims": (0, 1), "keepdim": False}) for dt in DTYPES],
    "logsumexp": [
        ((sample((2, 3, 4), dt),), {"dims": (0, 2), "keepdim": k})
        for dt in (D.float32, D.float64)
        for k in (False, True)
    ],
    "argmax": [
        ((sample((2, 3), F),), {"dim": 1, "keepdim": False}),
        ((sample((2, 3), F),), {"dim": None, "keepdim": True}),
    ],
    "argmin": [
        ((sample((2, 3), D.int64),), {"dim": 0, "keepdim": True}),
        ((sample((2, 3), F),), {"dim": None, "keepdim": False}),
    ],
    "cumsum": [((sample((2, 3), dt),), {"dim": 1}) for dt in DTYPES],
    "argsort": [
        ((sample((2, 3), dt),), {"dim": d, "descending": s})
        for dt in DTYPES
        for d in (0, 1)
        for s in (False, True)
    ],
    "argtopk": [
        ((sample((2, 9), dt),), {"dim": d, "k": k, "largest": s})
        for dt in DTYPES
        for d, k in ((1, 2), (0, 1), (1, 9))
        for s in (False, True)
    ],
    "lstm_cell": [((sample((3, 8), dt), sample((3, 2), dt)), {}) for dt in (D.float32, D.float64)],
    "lstm_scan": [
        ((sample((t, 3, 8), dt), sample((3, 2), dt), sample((3, 2), dt), sample((2, 8), dt)), {"reverse": r})
        for dt in (D.float32, D.float64)
        for t in (0, 1, 4)
        for r in (False, True)
    ],
    "gru_scan": [
        ((sample((t, 3, 6), dt), sample((3, 2), dt), sample((2, 6), dt), sample((2,), dt)), {"reverse": r})
        for dt in (D.float32, D.float64)
        for t in (0, 1, 4)
        for r in (False, True)
    ],
    "gru_scan_backward": [
        (
            (sample((t, 3, 10), dt), sample((t, 3, 10), dt), sample((3, 2), dt), sample((2, 6), dt)),
            {"reverse": r},
        )
        for dt in (D.float32, D.float64)
        for t in (0, 1, 4)
        for r in (False, True)
    ],
    "rnn_scan": [
        ((sample((t, 3, 2), dt), sample((3, 2), dt), sample((2, 2), dt)), {"nonlinearity": a, "reverse": r})
        for dt in (D.float32, D.float64)
        for t in (0, 1, 4)
        for a in ("tanh", "relu")
        for r in (False, True)
    ],
    "rnn_scan_backward": [
        (
            (sample((t, 3, 2), dt), sample((t, 3, 2), dt), sample((2, 2), dt)),
            {"nonlinearity": a, "reverse": r},
        )
        for dt in (D.float32, D.float64)
        for t in (0, 1, 4)
        for a in ("tanh", "relu")
        for r in (False, True)
    ],
    "lstm_scan_backward": [
        (
            (sample((t, 3, 12), dt), sample((t, 3, 12), dt), sample((3, 2), dt), sample((2, 8), dt)),
            {"reverse": r},
        )
        for dt in (D.float32, D.float64)
        for t in (0, 1, 4)
        for r in (False, True)
    ],
    "log_softmax": [((sample((2, 3), dt),), {"dim": 1}) for dt in (D.float32, D.float64)],
    "softmax": [((sample((2, 3, 2), dt),), {"dim": 0}) for dt in (D.float32, D.float64)],
    "reshape": [((sample((2, 3), F),), {"shape": (3, 2)}), ((sample((2, 3), D.bool_),), {"shape": (6,)})],
    "permute": [((sample((2, 3, 4), F),), {"dims": (2, 0, 1)})],
    "broadcast_to": [((sample((3, 1), F),), {"shape": (2, 3, 4)}), ((sample((), D.int64),), {"shape": (2,)})],
    "slice": [
        ((sample((4, 5), F),), {"index": (slice(1, 3, 1), None, 2)}),
        ((sample((4, 5), F),), {"index": (0,)}),
    ],
    "slice_grad": [
        ((sample((2,), F),), {"shape": (4, 5), "index": (slice(1, 3, 1), 2)}),
        ((sample((4, 2), F),), {"shape": (4, 5), "index": (slice(None, None, None), slice(1, 3, 1))}),
    ],
    "diagonal": [
        ((sample((3, 2, 4), dt),), {"offset": o, "dim1": 2, "dim2": 0})
        for dt in DTYPES
        for o in (-1, 0, 1, 5)
    ],
    "diagonal_grad": [
        ((sample((2, 2), dt),), {"shape": (3, 2, 4), "offset": 1, "dim1": 2, "dim2": 0}) for dt in DTYPES
    ],
    "unfold": [
        ((sample((3, 7), dt),), {"dim": d, "size": size, "step": step})
        for dt in DTYPES
        for d, size, step in ((1, 3, 1), (1, 2, 3), (0, 3, 2), (1, 0, 1), (1, 7, 4))
    ],
    "unfold_grad": [
        ((sample((3, 5, 3), dt),), {"shape": (3, 7), "dim": 1, "size": 3, "step": 1}) for dt in DTYPES
    ]
    + [((sample((2, 7, 2), F),), {"shape": (3, 7), "dim": 0, "size": 2, "step": 1})],
    "index": [
        ((sample((4, 5), F), idx(0, 3)), {"spec": (Ellipsis,)}),
        ((sample((4, 5, 2), F), idx(0, 3), idx(1, 1)), {"spec": (Ellipsis, slice(0, 5, 1), Ellipsis)}),
    ],
    "index_grad": [((sample((2, 5), F), idx(0, 0)), {"shape": (4, 5), "spec": (Ellipsis,)})],
    "index_put": [
        ((sample((4, 5), F), sample((3, 5), F), idx(0, 3, 0)), {"spec": (Ellipsis,)}),
        ((sample((4, 5), F), sample((), F), idx(1, 1), idx(2, 4)), {"spec": (Ellipsis, Ellipsis)}),
    ],
    "gather": [((sample((2, 3), F), idx([0, 2], [1, 1])), {"dim": 1})],
    "embedding": [
        ((sample((4, 3), F), idx([0, 3], [1, 1])), {"padding_idx": None}),
        ((sample((4, 3), D.float64), idx(2, 2, 0)), {"padding_idx": 2}),
    ],
    "embedding_grad": [((sample((2, 2, 3), F), idx([0, 3], [1, 1])), {"rows": 4, "padding_idx": 1})],
    "rebind": [((sample((2, 3), F), sample((2, 3), F)), {})],
    "assert_range": [
        ((idx([0, 3], [1, 1]),), {"low": 0, "high": 4, "error": "IndexError", "message": "{value}"}),
        (
            (sample((2,), F),),
            {"low": -9.0, "high": 9.0, "error": "RuntimeError", "message": "x", "closed": True},
        ),
    ],
    "scatter_add": [((sample((2, 3), F), idx([0, 2], [1, 1]), sample((2, 2), F)), {"dim": 1})],
    "scatter": [((sample((2, 3), dt), idx([0, 2], [1, 1]), sample((2, 3), dt)), {"dim": 1}) for dt in DTYPES],
    "scatter_reduce": [
        (
            (sample((3, 2), dt), idx([0, 2], [0, 0]), sample((2, 2), dt)),
            {"dim": 0, "reduce": r, "include_self": s},
        )
        for dt in DTYPES
        for r in ("prod", "amax", "amin")
        for s in (False, True)
    ],
    "cumprod": [((sample((2, 3), dt),), {"dim": d}) for dt in DTYPES for d in (0, 1)],
    "cumargmax": [((sample((2, 3), dt),), {"dim": 1}) for dt in DTYPES],
    "cumargmin": [((sample((2, 3), dt),), {"dim": 0}) for dt in DTYPES],
    "cat": [((sample((2, 3), F), sample((2, 1), F)), {"dim": 1})],
    "flip": [((sample((2, 3), F),), {"dims": (0, 1)})],
    "view_as_real": [((sample((2, 3), F).astype(np.complex64),), {}), ((np.complex128(1 - 2j),), {})],
    "fft_c2c": [
        ((sample((2, 3), F).astype(np.complex64),), {"dims": (1,), "forward": True, "norm": "ortho"})
    ],
    "fft_r2c": [((sample((4, 3), D.float64),), {"dims": (0, 1), "norm": "backward"})],
    "fft_c2r": [
        ((sample((2, 3), F).astype(np.complex64),), {"dims": (1,), "norm": "forward", "last_dim_size": 5})
    ],
    "view_as_complex": [((sample((2, 3, 2), F),), {}), ((sample((3, 2), D.float64)[::2],), {})],
    "pad": [((sample((2, 3), F),), {"widths": ((1, 0), (2, 3)), "value": 0.0})],
    "copy": [((sample((2, 3), F).T,), {})],
    "detach": [((sample((2, 3), dt),), {}) for dt in DTYPES],
    "matmul": [
        ((sample((5, 2, 3), F), sample((3, 4), F)), {}),
        ((sample((2, 3), D.int64), sample((1, 3, 2), D.int64)), {}),
    ],
    "linear": [
        ((sample((5, 3), F), sample((4, 3), F), sample((4,), F)), {}),
        ((sample((2, 5, 3), D.float64), sample((4, 3), D.float64)), {}),
    ],
    "nll_loss": [
        ((sample((4, 3), dt), idx(0, 2, -100, 1)), {"ignore_index": -100, "reduction": r})
        for dt in (D.float32, D.float64)
        for r in ("none", "sum", "mean")
    ]
    + [((sample((3,), F), np.array(2)), {"ignore_index": 1, "reduction": "none"})],
    "nll_loss_grad": [
        ((sample((), dt), idx(0, 2, -100, 1)), {"shape": (4, 3), "ignore_index": -100, "reduction": r})
        for dt in (D.float32, D.float64)
        for r in ("sum", "mean")
    ]
    + [
        (
            (sample((2, 2), F), np.array([[0, 2], [1, -1]])),
            {"shape": (2, 3, 2), "ignore_index": -1, "reduction": "none"},
        ),
        ((sample((), F), np.array(2)), {"shape": (3,), "ignore_index": 1, "reduction": "mean"}),
    ],
    "einsum": [
        ((sample((2, 3), F), sample((3, 4), F)), {"equation": "ij,jk->ik"}),
        ((sample((2, 3), F),), {"equation": "ij->j"}),
    ],
    "uniform": [((), {"shape": (2, 3), "dtype": dt}) for dt in (D.float32, D.float64, D.float16)],
    "size_scalar": [((), {"value": 7, "dtype": dt}) for dt in (D.float32, D.float64, D.int64, D.int32)],
    "full": [((), {"shape": (2, 3), "value": 0.5, "dtype": dt}) for dt in (D.float32, D.float64)],
    "arange": [
        ((), {"shape": (2, 3), "start": -1, "step": 2, "dtype": dt}) for dt in (D.int64, D.int32, D.float32)
    ],
    "tri": [
        (
            (),
            {
                "shape": shape,
                "offset": offset,
                "lower": lower,
                "inside": inside,
                "outside": outside,
                "dtype": dt,
            },
        )
        for shape, offset, lower in (((3, 3), 0, True), ((2, 3, 4), 1, False))
        for inside, outside, dt in ((True, False, D.bool_), (0.0, float("-inf"), D.float32))
    ],
    "normal": [((), {"shape": (4,), "dtype": dt, "mean": 1.0, "std": 2.0}) for dt in (D.float32, D.float64)],
    "randint": [((), {"shape": (2, 3), "dtype": dt, "low": -2, "high": 5}) for dt in (D.int64, D.float32)],
    "im2col": [
        ((sample((1, 2, 4, 5), F),), WINDOW),
        ((sample((1, 2, 4, 5), F),), {**WINDOW, "layout": "cols"}),
    ],
    "col2im": [
        ((sample(window_columns_shape((1, 2, 4, 5)), F),), {"shape": (1, 2, 4, 5), **WINDOW}),
        ((sample((1, 8, 6), F),), {"shape": (1, 2, 4, 5), **WINDOW, "layout": "cols"}),  # (N, C*kh*kw, oh*ow)
    ],
    "max_pool": [((sample((1, 2, 4, 5), dt),), WINDOW) for dt in (D.float32, D.float64, D.float16)],
    "max_pool_argmax": [((x, OPS["max_pool"].eval(x, **WINDOW)), WINDOW) for x in [sample((1, 2, 4, 5), F)]],
    "max_pool_scatter": [
        (
            (sample((1, 2, 2, 3), dt), _rng.integers(0, 4, (1, 2, 2, 3)).astype(np.int8)),
            {"shape": (1, 2, 4, 5), **WINDOW},
        )
        for dt in (D.float32, D.float64)
    ],
}


def _matrices(shape, dt, positive_definite=False):
    """A batch of well-conditioned square matrices (symmetric positive-definite if asked)."""
    n = shape[-1]
    x = _rng.standard_normal(shape)
    x = x @ np.swapaxes(x, -1, -2) if positive_definite else x
    return (x + n * np.eye(n)).astype(dt.np)


for _name in ("inv", "det", "slogdet", "cofactor", "cholesky"):
    SAMPLES[_name] = [((_matrices((2, 3, 3), dt, _name == "cholesky"),), {}) for dt in (D.float32, D.float64)]
SAMPLES["cholesky_ex"] = [((_matrices((2, 3, 3), dt, True),), {}) for dt in (D.float32, D.float64)] + [
    ((np.array([[4.0, 2.0], [2.0, -3.0]]),), {})  # not positive-definite: potf2's partial factor
]
SAMPLES["matrix_exp"] = [((sample((2, 3, 3), dt),), {}) for dt in (D.float32, D.float64)]
SAMPLES["solve_triangular"] = [
    ((_matrices((2, 3, 3), dt), sample((2, 3, 4), dt)), {"upper": upper, "unitriangular": unit})
    for dt in (D.float32, D.float64)
    for upper in (False, True)
    for unit in (False, True)
]
SAMPLES["lu_factor"] = [
    ((_rng.standard_normal(s).astype(dt.np),), {})
    for s in ((2, 4, 3), (3, 5), (2, 3, 3))
    for dt in (D.float32, D.float64)
]
SAMPLES["lu_permutation"] = [
    ((np.array([[2, 2, 3], [3, 3, 3]], np.int32),), {"m": 3, "dtype": dt}) for dt in (D.float32, D.float64)
]
for _name in ("igamma", "igammac"):
    SAMPLES[_name] = [
        ((_rng.uniform(0.1, 30, (3, 4)).astype(dt.np), _rng.uniform(0.1, 40, (3, 4)).astype(dt.np)), {})
        for dt in (D.float32, D.float64)
    ]
SAMPLES["solve"] = [((_matrices((2, 3, 3), dt), sample((2, 3, 4), dt)), {}) for dt in (D.float32, D.float64)]
_RECTANGLES = ((2, 4, 3), (3, 5), (2, 2, 2))  # tall, wide, square
SAMPLES["svd"] = [
    ((_rng.standard_normal(s).astype(dt.np),), {"full_matrices": full})
    for s in _RECTANGLES
    for dt in (D.float32, D.float64)
    for full in (False, True)
]
SAMPLES["svdvals"] = [
    ((_rng.standard_normal(s).astype(dt.np),), {}) for s in _RECTANGLES for dt in (D.float32, D.float64)
]
SAMPLES["qr"] = [
    ((_rng.standard_normal(s).astype(dt.np),), {"mode": mode})
    for s in _RECTANGLES
    for dt in (D.float32, D.float64)
    for mode in ("reduced", "complete", "r")
]
for _name in ("eigh", "eigvalsh"):
    SAMPLES[_name] = [
        ((_matrices((2, 3, 3), dt, True),), {"uplo": uplo}) for dt in (D.float32, D.float64) for uplo in "LU"
    ]
SAMPLES["pinv"] = [
    ((_rng.standard_normal(s).astype(dt.np), np.zeros(()), np.full(s[:-2], 1e-6)), {"hermitian": False})
    for s in _RECTANGLES
    for dt in (D.float32, D.float64)
] + [
    ((_matrices((2, 3, 3), dt, True), np.zeros(2), np.zeros(())), {"hermitian": True})
    for dt in (D.float32, D.float64)
]
_CTC = (
    np.log(np.full((6, 2, 4), 0.25)),
    np.array([[1, 2, 2], [3, 0, 0]]),
    np.array([6, 5]),
    np.array([3, 1]),
)
SAMPLES["ctc_loss"] = [
    (
        tuple(a.astype(dt.np) if i == 0 else a for i, a in enumerate(_CTC)),
        {"blank": 0, "zero_infinity": False},
    )
    for dt in (D.float32, D.float64)
]
SAMPLES["ctc_loss_grad"] = [
    ((np.ones(2, dt.np), _CTC[0].astype(dt.np), *_CTC[1:]), {"blank": 0, "zero_infinity": True})
    for dt in (D.float32, D.float64)
]
SAMPLES["polygamma"] = [((sample((2, 3), dt),), {"n": n}) for dt in DTYPES for n in (0, 2)]


def _nonzero(x: np.ndarray) -> np.ndarray:
    """``x`` with zeros made ones: integer division by zero raises, as in torch."""
    return np.where(x == 0, 1, x).astype(x.dtype)


for _name in ("floor_divide", "remainder", "fmod"):
    SAMPLES[_name] = [((sample((2, 3), dt), _nonzero(sample((3,), dt))), {}) for dt in DTYPES]


def elementwise_samples(op):
    shapes = [(2, 3), (3,), (1, 3)][: op.arity]
    return [(tuple(sample(s, dt) for s in shapes), {}) for dt in DTYPES]


def samples_of(op):
    if op.name in SAMPLES:
        return SAMPLES[op.name]
    if op.kind is Kind.ELEMENTWISE and op.arity in (1, 2):
        return elementwise_samples(op)
    raise AssertionError(f"no sample inputs for op {op.name!r}: add them to SAMPLES")


def meta(x: np.ndarray) -> Meta:
    return Meta(tuple(x.shape), D.from_numpy_dtype(x.dtype))


def accepted_samples(op):
    """``(arrays, attrs, the result's Meta)`` for each sample of ``op`` its shape rule
    accepts (it rejects some on purpose, e.g. sin of an int tensor)."""
    for arrays, attrs in samples_of(op):
        try:
            expected = op.infer(*(meta(a) for a in arrays), **attrs)
        except (TypeError, RuntimeError, NotImplementedError, IndexError):
            continue
        yield arrays, attrs, expected


@pytest.mark.parametrize("name", sorted(OPS))
def test_infer_agrees_with_eval(name):
    op = OPS[name]
    checked = 0
    for arrays, attrs, expected in accepted_samples(op):
        out = np.asarray(op.eval(*arrays, **attrs))
        assert tuple(out.shape) == tuple(expected.shape), (
            name,
            [a.dtype for a in arrays],
            out.shape,
            expected,
        )
        assert D.from_numpy_dtype(out.dtype) is expected.dtype, (
            name,
            [a.dtype for a in arrays],
            out.dtype,
            expected,
        )
        checked += 1
    assert checked, f"no sample of {name} passed its shape rule"


def test_every_differentiable_op_has_a_gradcheck_test():
    differentiable = {name for name, op in OPS.items() if op.differentiable}
    missing = differentiable - COVERED
    assert not missing, f"ops with a vjp but no gradcheck test: {sorted(missing)}"


def test_registry_names_are_consistent():
    for name, op in OPS.items():
        assert op.name == name and repr(op) == f"<op {name}>"
        assert op.arity >= -1  # -1: variadic; 0: no tensor inputs (random ops)


def _index_inputs(op, args, attrs) -> set[int]:
    """Input positions (after the first) whose integer values ``op`` indexes with: replacing
    them by a huge value makes the kernel raise."""
    found = set()
    for pos, a in enumerate(args):
        if pos == 0 or not isinstance(a, np.ndarray) or a.dtype.kind not in "iu" or a.size == 0:
            continue
        changed = list(args)
        changed[pos] = np.full_like(a, np.iinfo(a.dtype).max)
        try:
            op.eval(*changed, **attrs)
        except (IndexError, ValueError, RuntimeError):
            found.add(pos)
    return found


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_ops_that_index_declare_their_index_bounds(name):
    """Validation draws new index values from ``index_bounds``: an op that indexes with an
    input must declare its bound, and every value under the bound must be valid."""
    op = OPS[name]
    for args, attrs in SAMPLES[name]:
        needed = _index_inputs(op, args, attrs)
        if not needed:
            continue
        assert op.index_bounds is not None, f"{name} indexes with inputs {needed}: declare index_bounds"
        metas = [Meta(np.shape(a), D.from_numpy_dtype(np.asarray(a).dtype)) for a in args]
        bounds = op.index_bounds(metas, attrs)
        assert needed <= set(bounds), f"{name}: index_bounds {bounds} misses inputs {needed}"
        for pos, bound in bounds.items():
            top = list(args)
            top[pos] = np.full_like(args[pos], bound - 1)
            op.eval(*top, **attrs)  # the largest valid value is accepted


_SPECIAL_FLOATS = np.array([0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, 1e-40, 3e38])


@pytest.mark.parametrize("name", sorted(n for n, op in OPS.items() if op.commutative))
def test_commutative_ops_give_the_same_bits_in_either_order(name):
    # CSE merges f(a, b) with f(b, a): for every pair of special values (signed zeros,
    # infinities, NaN, subnormals) and of integers, both orders give the same bits
    op = OPS[name]
    assert op.arity == 2 and op.kind is Kind.ELEMENTWISE
    a, b = np.meshgrid(_SPECIAL_FLOATS, _SPECIAL_FLOATS)
    ints = np.meshgrid(np.array([0, 1, -3, 7, 2**31 - 1]), np.array([5, -1, 0, 3, -(2**31)]))
    cases = [(a.astype(np.float32), b.astype(np.float32)), (a, b), tuple(x.astype(np.int32) for x in ints)]
    cases.append(tuple(x != 0 for x in ints))
    for x, y in cases:
        try:
            with np.errstate(all="ignore"):  # inf * 0, overflow: the values are the point
                forward = np.asarray(op.eval(x, y))
                backward = np.asarray(op.eval(y, x))
        except (TypeError, ValueError, RuntimeError):
            continue  # a dtype the op does not take (bitwise ops of floats)
        assert forward.tobytes() == backward.tobytes() or (
            forward.dtype.kind == "f"
            and np.array_equal(forward, backward, equal_nan=True)
            and np.array_equal(np.signbit(forward), np.signbit(backward))
        ), (name, x.dtype)


def test_every_elementwise_op_says_how_a_cat_of_its_steps_joins():
    # (a check raises per element: joining its steps would still raise, but it is left be)
    missing = [
        n for n, op in OPS.items() if op.kind is Kind.ELEMENTWISE and not op.raises and op.stack is None
    ]
    assert not missing, missing


@pytest.mark.parametrize("name", sorted(n for n, op in OPS.items() if op.stack is not None))
def test_stack_rules_compute_the_cat_they_replace(name):
    # three steps of the op on sample arguments (the first per step, the others per step
    # or shared), concatenated along each dim: stack_steps' graph gives the same values
    from irgrad.ir import Graph, interpret, verify
    from irgrad.ir.builder import GraphOps
    from irgrad.passes.stack_steps import stack_steps

    op = OPS[name]
    joined = 0
    for arrays, attrs, out in accepted_samples(op):
        for shared in (False, True):
            for dim in range(len(out.shape)):
                g = Graph("steps")
                F = GraphOps(g)
                values, steps = [], []
                for t in range(3):
                    args = []
                    for k, a in enumerate(arrays):
                        if shared and k > 0 and t > 0:
                            args.append(steps[0][k])
                            continue
                        args.append(F.input(f"a{t}_{k}", a.shape, D.from_numpy_dtype(a.dtype)))
                        values.append(a if t == 0 else sample(a.shape, D.from_numpy_dtype(a.dtype)))
                    steps.append(args)
                g.set_outputs([F.cat(*(F.apply(name, args, attrs) for args in steps), dim=dim).id])
                after = verify(stack_steps(verify(g)))
                joined += after.node(after.outputs[0]).op != "cat"
                with np.errstate(all="ignore"):
                    (want,), (got,) = interpret(g, values), interpret(after, values)
                assert got.dtype == want.dtype and got.shape == want.shape
                if op.kind is Kind.MATMUL:
                    np.testing.assert_allclose(got, want, rtol=1e-5)
                else:
                    assert np.array_equal(got, want, equal_nan=want.dtype.kind in "fc"), (name, dim, shared)
    assert joined or name == "slice", f"{name}'s rule never joined its samples' steps"


@pytest.mark.parametrize("name", sorted(n for n, op in OPS.items() if op.identity_of is not None))
def test_an_identity_for_autodiff_has_its_arguments_value(name):
    # identity_of: the op's value is that argument's (read through once gradients are
    # taken, passes/value_identities.py); its infer agrees, and it is a free view
    op = OPS[name]
    checked = 0
    for arrays, attrs, expected in accepted_samples(op):
        source = arrays[op.identity_of]
        assert tuple(expected.shape) == source.shape and expected.dtype is D.from_numpy_dtype(source.dtype)
        np.testing.assert_array_equal(np.asarray(op.eval(*arrays, **attrs)), source)
        checked += 1
    assert checked and op.view is not None


@pytest.mark.parametrize("name", sorted(name for name, op in OPS.items() if op.fresh_layout))
def test_an_op_laid_out_afresh_gives_contiguous_results_from_any_layout(name):
    """OpDef.fresh_layout: the results are C-contiguous when the inputs are transposed
    (Fortran-ordered) too, so no input's strides show through them (the tracer's guard
    of argument strides relies on it)."""
    op = OPS[name]
    checked = 0
    for arrays, attrs, _ in accepted_samples(op):
        transposed = [np.asfortranarray(a) if a.ndim >= 2 else a for a in arrays]
        out = op.eval(*transposed, **attrs)
        for result in out if isinstance(out, tuple) else (out,):
            assert np.asarray(result).flags.c_contiguous, (name, [a.strides for a in transposed])
        checked += 1
    assert checked, f"no accepted sample of {name}"
