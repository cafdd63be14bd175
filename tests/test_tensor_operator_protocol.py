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
