"""Tensor operators and operands they do not take: Python's protocol, as PyTorch follows it.

An operator given an operand it does not take returns NotImplemented, so Python tries
the operand's reflected method (``__radd__``; ``__gt__`` for ``<``) and otherwise falls
back as for any object: ``t == None`` is False, ``t + object()`` raises Python's
"unsupported operand" TypeError.  Operands it does take but rejects (a number of the
wrong kind, a complex tensor for ``<``) still raise the operator's own error.
"""

import operator

import pytest

import irgrad

OPERATORS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
    "@": operator.matmul,
    "&": operator.and_,
    "|": operator.or_,
    "^": operator.xor,
    "<<": operator.lshift,
    ">>": operator.rshift,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
REFLECTED = {
    "+": "__radd__",
    "-": "__rsub__",
    "*": "__rmul__",
    "/": "__rtruediv__",
    "//": "__rfloordiv__",
    "%": "__rmod__",
    "**": "__rpow__",
    "@": "__rmatmul__",
    "&": "__rand__",
    "|": "__ror__",
    "^": "__rxor__",
    "<<": "__rlshift__",
    ">>": "__rrshift__",
    "==": "__eq__",
    "!=": "__ne__",
    "<": "__gt__",
    "<=": "__ge__",
    ">": "__lt__",
    ">=": "__le__",
}


class Reflecting:
    """An operand that answers every reflected operator with its name."""


for _name in set(REFLECTED.values()):
    setattr(Reflecting, _name, lambda self, other, _name=_name: _name)


def _operand(symbol: str, lib):
    return lib.ones(2, dtype=lib.int64) if symbol in ("&", "|", "^", "<<", ">>") else lib.ones(2)


@pytest.mark.parametrize("symbol", OPERATORS)
def test_an_operand_with_the_reflected_method_answers(symbol):
    t = _operand(symbol, irgrad)
    assert OPERATORS[symbol](t, Reflecting()) == REFLECTED[symbol]


@pytest.mark.parametrize("symbol", ["+", "-", "*", "/", "**", "&", "<<"])
def test_an_in_place_operator_falls_back_to_the_reflected_method(symbol):
    t = _operand(symbol, irgrad)
    target = t
    target = getattr(operator, "i" + OPERATORS[symbol].__name__.strip("_"))(target, Reflecting())
    assert target == REFLECTED[symbol]


@pytest.mark.parametrize("other", [None, "a", object(), [1.0, 1.0], (1, 1), {}])
def test_equality_with_a_foreign_object_is_identity_and_the_rest_raise(other):
    t = irgrad.ones(2)
    assert (t == other) is False and (other == t) is False
    assert (t != other) is True and (other != t) is True
    assert t not in [None, "a"]
    with pytest.raises(TypeError, match="unsupported operand"):
        _ = t + other
    with pytest.raises(TypeError):
        _ = t < other


@pytest.mark.parametrize("other", [None, "a", object(), [1.0, 1.0], (1, 1), {}, 2, 2.5, True, 1j])
@pytest.mark.parametrize("symbol", OPERATORS)
def test_outcomes_match_pytorch(symbol, other):
    torch = pytest.importorskip("torch")

    def outcome(lib, swap):
        t = _operand(symbol, lib)
        try:
            result = OPERATORS[symbol](other, t) if swap else OPERATORS[symbol](t, other)
        except Exception as exc:  # noqa: BLE001 - the kind of failure is compared
            return type(exc).__name__
        return "Tensor" if isinstance(result, (torch.Tensor, irgrad.Tensor)) else repr(result)

    for swap in (False, True):
        assert outcome(irgrad, swap) == outcome(torch, swap)


ARRAYS = {
    "float64": lambda np: np.ones(2) * 3,
    "float32": lambda np: np.full(2, 2, dtype=np.float32),
    "int32": lambda np: np.full(2, 3, dtype=np.int32),
    "bool": lambda np: np.ones(2, dtype=bool),
    "0-d": lambda np: np.array(3),
    "matrix": lambda np: np.ones((3, 2)),
}


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("array", ARRAYS)
@pytest.mark.parametrize("symbol", OPERATORS)
def test_numpy_array_operands_match_pytorch(symbol, array, requires_grad):
    # PyTorch's operators leave a numpy array to numpy (its reflected operator computes
    # on the tensor's array, with numpy's promotion, and __array_wrap__ makes the result
    # a tensor, bool as uint8); == and != compare with the array's values; orderings and
    # an array on the left raise TypeError; a tensor that requires grad refuses numpy
    torch = pytest.importorskip("torch")
    import numpy as np

    def outcome(lib, swap):
        t = _operand(symbol, lib)
        if requires_grad:
            if not t.is_floating_point():
                return "skip"
            t = t.requires_grad_()
        other = ARRAYS[array](np)
        try:
            result = OPERATORS[symbol](other, t) if swap else OPERATORS[symbol](t, other)
        except Exception as exc:  # noqa: BLE001 - the kind of failure is compared
            return type(exc).__name__
        if not isinstance(result, (torch.Tensor, irgrad.Tensor)):
            return repr(result)
        return str(result.dtype).split(".")[-1], result.detach().numpy().tolist()

    for swap in (False, True):
        assert outcome(irgrad, swap) == outcome(torch, swap)


def test_numpy_ufuncs_of_a_tensor_give_a_tensor():
    import numpy as np

    t = irgrad.tensor([0.0, 1.0])
    for result, want in ((np.exp(t), np.exp([0.0, 1.0])), (np.add(t, 1), [1.0, 2.0]), (np.isnan(t), [0, 0])):
        assert isinstance(result, irgrad.Tensor)
        np.testing.assert_allclose(result.numpy(), np.asarray(want, np.float32), rtol=1e-6)
    assert np.isnan(t).dtype == irgrad.uint8  # a bool result, as PyTorch's __array_wrap__ makes it


def test_a_tensor_that_requires_grad_refuses_numpy_as_pytorchs_does():
    import numpy as np

    t = irgrad.ones(2, requires_grad=True)
    for convert in (np.asarray, np.array, np.exp, lambda x: x + np.ones(2)):
        with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
            convert(t)
    np.testing.assert_array_equal(np.asarray(t.detach()), [1.0, 1.0])
    assert (t == np.ones(2)).all()  # a comparison gives no gradient: it takes the array
