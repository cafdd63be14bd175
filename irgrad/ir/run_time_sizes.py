"""Sizes known only at run time, for code compiled once for many sizes.

A graph with symbolic sizes (``dynamic=True``) is compiled into one native program for
every size by giving its compiler, instead of integers, :class:`Size` objects: integer
polynomials over the size symbols (``B``, ``64*B + 3``) that carry a *hint*, the value
at the sizes of the call that asked for the program.  Arithmetic on them stays
symbolic; the code generator emits such a size as a run-time value
(:func:`irgrad.codegen.run_time.size_value`).  Every decision the compiler takes on
one (``if rows >= 32``, ``max(a, b)``, ``range(n)``, a shape handed to numpy, a size
printed into LLVM IR as a constant) is taken on the hint and recorded in its
:class:`Assumptions` as a fact; the program is then used only at sizes where every
fact holds (:meth:`Assumptions.hold`), as torch.compile guards its dynamic shapes.

So the compiler needs no symbolic path of its own to be right: code that reads a
size as an integer specialises the program to that size, code that emits it as a
run-time value generalises it.  After the program is built its assumptions are
frozen: a size read then (a kernel given a symbolic shape at run time) raises instead
of answering with the hint.
"""

from __future__ import annotations

import numbers
import operator
import os
import traceback
from typing import Any

import numpy as np

Monomial = tuple[str, ...]  # symbols multiplied, sorted; () is the constant term
_TRACE = os.environ.get("IRGRAD_TRACE_ASSUMPTIONS") == "1"


class Assumptions:
    """The sizes a program is built at (``hints``) and the facts its build took for
    granted about them: ``(polynomial, relation) -> outcome``, where the relation is
    ``"=="`` (the polynomial is 0) or ``">"`` (it is positive)."""

    def __init__(self, hints: dict[str, int]) -> None:
        self.hints = dict(hints)
        self.facts: dict[tuple, bool] = {}
        self.where: dict[tuple, list] = {}  # with IRGRAD_TRACE_ASSUMPTIONS=1: who asked
        self.frozen = False

    def size(self, name: str) -> Size:
        return Size({(name,): 1}, self)

    def record(self, poly: Size, relation: str, outcome: bool) -> None:
        if self.frozen:
            raise RuntimeError(
                f"the size {poly!r} was read after its program was built: "
                "a run-time step was given a symbolic size"
            )
        key = (poly.key, relation)
        self.facts[key] = outcome
        if _TRACE:
            self.where.setdefault(key, traceback.format_stack(limit=8)[:-3])

    def hold(self, env: dict[str, int]) -> bool:
        """Whether every fact holds at the sizes ``env``."""
        return _all_hold(self.facts, env)

    def agree(self, facts: dict[tuple, bool]) -> bool:
        """Whether every one of the facts another build of the program took holds at the
        hints (a program kept on disk, see :mod:`irgrad.codegen.program_cache`): this build
        would ask the same and get the same answers, so it would emit what that one did."""
        return _all_hold(facts, self.hints)

    def adopt(self, facts: dict[tuple, bool]) -> None:
        """Take the facts of the build whose program this one uses (see :meth:`agree`)."""
        self.facts.update(facts)

    def describe(self, only: str | None = None) -> list[str]:
        """The facts (of relation ``only``, ``"=="`` or ``">"``), readable, for ``explain()``:
        ``33-B > 0``, ``-1+B == 0 is False`` ..."""
        lines = []
        for (terms, relation), outcome in self.facts.items():
            if only is not None and relation != only:
                continue
            text = _format(terms)
            lines.append(f"{text} {relation} 0" + ("" if outcome else " is False"))
        return lines


def _all_hold(facts: dict[tuple, bool], env: dict[str, int]) -> bool:
    for (terms, relation), outcome in facts.items():
        value = _evaluate(terms, env)
        if (value == 0 if relation == "==" else value > 0) != outcome:
            return False
    return True


def _evaluate(terms: tuple, env: dict[str, int]) -> int:
    total = 0
    for monomial, coefficient in terms:
        value = coefficient
        for name in monomial:
            value *= env[name]
        total += value
    return total


def _format(terms: tuple) -> str:
    parts = []
    for monomial, coefficient in terms:
        if not monomial:
            parts.append(str(coefficient))
        else:
            product = "*".join(monomial)
            factor = {1: "", -1: "-"}.get(coefficient, f"{coefficient}*")
            parts.append(factor + product)
    return "+".join(parts).replace("+-", "-") or "0"


class Size:
    """An integer polynomial over size symbols, with its value at the hints (see the
    module's docstring).  Sizes of one :class:`Assumptions` combine with each other and
    with ints; reading one as an int records that the program assumed its hint."""

    __slots__ = ("key", "assumptions", "hint")

    def __init__(self, terms: dict[Monomial, int], assumptions: Assumptions) -> None:
        self.key = tuple(sorted((m, c) for m, c in terms.items() if c))
        self.assumptions = assumptions
        self.hint = _evaluate(self.key, assumptions.hints)

    # --- building -----------------------------------------------------------------------------

    def _terms(self) -> dict[Monomial, int]:
        return dict(self.key)

    def _other(self, other: Any) -> dict[Monomial, int] | None:
        if isinstance(other, Size):
            if other.assumptions is not self.assumptions:
                raise ValueError("sizes of two programs combined")
            return other._terms()
        if isinstance(other, (int, np.integer)) and not isinstance(other, bool):
            return {(): int(other)}
        return None

    def _compared(self, other: Any, relation) -> Any:
        """A comparison with a float (or a numpy float): on the size read as an int (which
        records that the program assumed it), never an answer that records nothing."""
        if isinstance(other, (float, np.floating)):
            return relation(int(self), other)
        return NotImplemented

    def _make(self, terms: dict[Monomial, int]) -> Size | int:
        terms = {m: c for m, c in terms.items() if c}
        if not terms:
            return 0
        if list(terms) == [()]:
            return terms[()]
        return Size(terms, self.assumptions)

    def __add__(self, other: Any) -> Size | int:
        terms = self._other(other)
        if terms is None:
            return NotImplemented
        total = self._terms()
        for m, c in terms.items():
            total[m] = total.get(m, 0) + c
        return self._make(total)

    __radd__ = __add__

    def __neg__(self) -> Size | int:
        return self._make({m: -c for m, c in self.key})

    def __pos__(self) -> Size:
        return self

    def __sub__(self, other: Any) -> Size | int:
        terms = self._other(other)
        if terms is None:
            return NotImplemented
        return self + self._make({m: -c for m, c in terms.items()})

    def __rsub__(self, other: Any) -> Size | int:
        return -self + other

    def __mul__(self, other: Any) -> Size | int:
        terms = self._other(other)
        if terms is None:
            return NotImplemented
        product: dict[Monomial, int] = {}
        for m1, c1 in self.key:
            for m2, c2 in terms.items():
                m = tuple(sorted(m1 + m2))
                product[m] = product.get(m, 0) + c1 * c2
        return self._make(product)

    __rmul__ = __mul__

    def __floordiv__(self, other: Any) -> Size | int:
        """Exact when the divisor divides every term (a byte count by an item size, the
        elements of a ``B x 10`` array by ``B``); otherwise the hint's quotient, assumed."""
        quotient = self._exact_quotient(other)
        return quotient if quotient is not None else int(self) // int(other)

    def _exact_quotient(self, other: Any) -> Size | int | None:
        if isinstance(other, Size) and len(other.key) == 1:
            ((divisor, coefficient),) = other.key
        elif isinstance(other, int) and not isinstance(other, bool) and other > 0:
            divisor, coefficient = (), other
        else:
            return None
        if coefficient <= 0:
            return None
        terms: dict[Monomial, int] = {}
        for monomial, c in self.key:
            rest = list(monomial)
            for name in divisor:
                if name not in rest:
                    return None
                rest.remove(name)
            if c % coefficient:
                return None
            terms[tuple(rest)] = c // coefficient
        return self._make(terms)

    def __rfloordiv__(self, other: Any) -> int:
        return other // int(self)

    def __mod__(self, other: Any) -> Size | int:
        if isinstance(other, int) and other > 0 and all(c % other == 0 for m, c in self.key if m):
            return dict(self.key).get((), 0) % other
        return int(self) % other

    def __rmod__(self, other: Any) -> int:
        return other % int(self)

    # --- comparing: a fact on the hint ------------------------------------------------------------

    def _fact(self, difference: Size | int, relation: str) -> bool:
        if isinstance(difference, int):
            return difference == 0 if relation == "==" else difference > 0
        outcome = difference.hint == 0 if relation == "==" else difference.hint > 0
        self.assumptions.record(difference, relation, outcome)
        return outcome

    def __eq__(self, other: Any) -> bool:
        terms = self._other(other)
        if terms is None:
            return self._compared(other, operator.eq)
        return self._fact(self - other, "==")

    def __ne__(self, other: Any) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def _ordered(self, other: Any, relation, positive) -> bool:
        """``relation(self, other)`` as the fact ``positive(self, other) > 0``."""
        if self._other(other) is None:
            return self._compared(other, relation)
        return self._fact(positive(self, other), ">")

    def __lt__(self, other: Any) -> bool:
        return self._ordered(other, operator.lt, lambda a, b: b - a)

    def __le__(self, other: Any) -> bool:  # (integers: a <= b is b - a + 1 > 0)
        return self._ordered(other, operator.le, lambda a, b: b - a + 1)

    def __gt__(self, other: Any) -> bool:
        return self._ordered(other, operator.gt, lambda a, b: a - b)

    def __ge__(self, other: Any) -> bool:
        return self._ordered(other, operator.ge, lambda a, b: a - b + 1)

    def __hash__(self) -> int:
        # the expression's (so shapes key caches), not the hint's: a size is never found
        # in a set of ints, nor an int in a set of sizes, and no fact is recorded for it
        return hash((id(self.assumptions), self.key))

    # --- read as an integer: the program assumes the hint -----------------------------------------

    def __index__(self) -> int:
        self.assumptions.record(self - self.hint, "==", True)  # never constant: a Size has a symbol
        return self.hint

    __int__ = __index__

    def __bool__(self) -> bool:
        return self != 0

    def __float__(self) -> float:
        return float(int(self))

    def __abs__(self) -> Size | int:
        return self if self >= 0 else -self

    def __str__(self) -> str:  # an LLVM IR constant prints its value with str()
        return str(int(self))

    def __format__(self, spec: str) -> str:
        return format(int(self), spec)

    def __repr__(self) -> str:  # how a shape prints in a graph: the expression
        return _format(self.key)

    def evaluate(self, env: dict[str, int]) -> int:
        return _evaluate(self.key, env)


# An integer however code asks (an index in a slice's attributes, a dimension): code that
# tells ints from slices and None with ``isinstance(item, numbers.Integral)`` sees a size.
numbers.Integral.register(Size)
