"""Sizes known at run time (irgrad.ir.run_time_sizes): polynomial arithmetic that equals
integer arithmetic at every size, and every decision taken on a hint recorded as a fact
that holds exactly where the decision would be the same."""

import operator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irgrad.ir.run_time_sizes import Assumptions, Size
from irgrad.ir.symbolic import resolve

SYMBOLS = ("B", "T")
sizes_at = st.fixed_dictionaries({name: st.integers(0, 40) for name in SYMBOLS})


@st.composite
def expressions(draw, depth=3):
    """A recipe: nested (op, left, right) over symbol names and small ints."""
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(SYMBOLS)) if draw(st.booleans()) else draw(st.integers(-9, 9))
    op = draw(st.sampled_from(["+", "-", "*"]))
    return (op, draw(expressions(depth=depth - 1)), draw(expressions(depth=depth - 1)))


def build(recipe, leaf):
    if isinstance(recipe, tuple):
        op, left, right = recipe
        f = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]
        return f(build(left, leaf), build(right, leaf))
    return leaf(recipe) if isinstance(recipe, str) else recipe


@settings(max_examples=300, deadline=None)
@given(expressions(), expressions(), sizes_at, sizes_at)
def test_arithmetic_and_decisions_follow_the_integers(left, right, hints, other):
    """A Size evaluates, at any sizes, to what the same arithmetic on ints gives there;
    a comparison answers as the ints at the hints do, and the fact it records holds at
    exactly the sizes where the ints compare the same way."""
    assumptions = Assumptions(hints)
    a, b = build(left, assumptions.size), build(right, assumptions.size)
    for env in (hints, other):
        assert resolve(a, env) == build(left, env.__getitem__)
    compare = [operator.lt, operator.le, operator.eq, operator.ne, operator.gt, operator.ge]
    for relation in compare:
        assert relation(a, b) == relation(build(left, hints.__getitem__), build(right, hints.__getitem__))
    same = all(
        relation(build(left, other.__getitem__), build(right, other.__getitem__))
        == relation(build(left, hints.__getitem__), build(right, hints.__getitem__))
        for relation in compare
    )
    assert assumptions.hold(other) == same
    assert assumptions.hold(hints)


def test_reading_a_size_as_an_int_assumes_its_hint():
    """int(), indexing, str() (what an LLVM constant prints) and bool() all answer with
    the hint and record it; repr() (how a graph prints a shape) does not."""
    for read in (int, operator.index, str, lambda n: list(range(n)), lambda n: f"{n}"):
        assumptions = Assumptions({"B": 5})
        n = assumptions.size("B") * 2 + 1
        assert repr(n) == "1+2*B" and assumptions.hold({"B": 6})
        read(n)
        assert assumptions.hold({"B": 5}) and not assumptions.hold({"B": 6})
    assumptions = Assumptions({"B": 5})
    assert bool(assumptions.size("B")) and assumptions.hold({"B": 9}) and not assumptions.hold({"B": 0})


def test_exact_division_stays_symbolic():
    """A byte count divided by an item size, or the elements of a B x 10 array divided by
    B, is exact and assumes nothing; a division with a remainder assumes the hint."""
    assumptions = Assumptions({"B": 6, "T": 3})
    B, T = assumptions.size("B"), assumptions.size("T")
    assert repr((B * T * 40) // 4) == "10*B*T"
    assert (B * 10) // B == 10
    assert (B * 4 + 8) % 4 == 0
    assert not assumptions.facts
    assert (B + 1) // 2 == 3 and not assumptions.hold({"B": 8, "T": 3})


def test_sizes_of_one_program_hash_apart_from_anothers():
    """A cache keyed by shapes never hands one program's decisions to another: equal
    expressions of two programs are different keys."""
    one, two = Assumptions({"B": 4}), Assumptions({"B": 4})
    cache = {(one.size("B"), 3): "one"}
    assert (two.size("B"), 3) not in cache and (one.size("B"), 3) in cache
    with pytest.raises(ValueError, match="two programs"):
        one.size("B") + two.size("B")


def test_a_size_read_after_the_program_is_built_raises():
    """After the build, the assumptions are frozen: a size read then would answer with
    the hint at another size, so it raises instead."""
    assumptions = Assumptions({"B": 4})
    n = assumptions.size("B")
    assumptions.frozen = True
    assert resolve((n * 3, [n + 1]), {"B": 7}) == (21, [8])
    with pytest.raises(RuntimeError, match="after its program was built"):
        int(n)
    with pytest.raises(RuntimeError, match="after its program was built"):
        n < 9  # noqa: B015
    assert isinstance(n * 2, Size)


def test_a_comparison_with_a_float_reads_the_size_as_an_int():
    """``size == 8.0`` is taken on the hint and recorded, never answered silently."""
    assumptions = Assumptions({"B": 8})
    n = assumptions.size("B")
    assert n == 8.0 and not (n < 7.5) and assumptions.hold({"B": 8}) and not assumptions.hold({"B": 9})
