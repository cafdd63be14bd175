"""Random straight-line programs (see ``context`` for how each statement is checked).

``generate(seed)`` is deterministic: the program and every array of every call it
will be run with come from one numpy Generator seeded by ``seed`` (irgrad's own RNG
is seeded from it too, for the random ops run while generating).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

import irgrad

from ..differential import _load, _loss_weights, _weighted_sum, arguments
from . import ops_index, ops_inplace, ops_nn, ops_pointwise, ops_python, ops_reduce, ops_shape  # noqa: F401  (registers them)
from .catalog import catalog, choose
from .context import EagerCrash, Gen
from .program import Program, draw_values

RESULT_FORMS = ("single", "tuple", "tuple", "list", "dict")


@dataclass
class Generated:
    """A program with the values it runs on.

    ``values`` maps an input name to its arrays: ``"a"`` (first call), ``"a2"`` (new
    values, same sizes), ``"a3"`` (more new values), ``"b"`` (another batch size),
    ``"c"`` (a third batch size), ``"d"`` (a fourth, from 20 to 69).  ``train_ok``:
    eager backward through it works (an in-place write on a value saved for backward
    makes eager raise, so such a program runs in inference modes only).
    """

    program: Program
    values: dict[str, dict[str, np.ndarray]]
    grad: bool
    train_ok: bool
    batch_sizes: tuple[int, int, int]
    eager_crashes: list[EagerCrash] = field(default_factory=list)


def generate(seed, max_ops: int = 25, min_ops: int = 3) -> Generated:
    """A random program of ``min_ops``..``max_ops`` statements (see the module docstring)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # overflow, NaN and the like are expected and valid
        return _generate(seed, max_ops, min_ops)


def _generate(seed, max_ops: int, min_ops: int) -> Generated:
    rng = np.random.default_rng(seed)
    grad = bool(rng.random() < 0.8)
    special = bool(rng.random() < 0.15)
    b1 = int(rng.integers(2, 5))
    b2 = b1 + int(rng.integers(1, 3))
    b3 = int(rng.choice([1, b1 + b2]))
    irgrad.manual_seed(int(rng.integers(2**31)))
    g = Gen(rng, grad=grad, special=special, batch_sizes=(b1, b2))
    for _ in range(int(rng.integers(1, 4))):
        rank = int(rng.choice([0, 1, 2, 2, 3, 3, 4]))
        g.new_input(g.float_dtype(), g.random_shape(rank), batch=rank > 0 and g.coin(0.7))
    g.pending = []
    gens = catalog()
    n_ops = int(rng.integers(min_ops, max(min_ops, max_ops) + 1))
    tries = 0
    while len(g.stmts) < n_ops and tries < 40 * n_ops:
        tries += 1
        choose(rng, gens).fn(g)
        g.pending = []
    program = _with_result(g)
    values = _call_values(g, program, rng, b3)
    train_ok = grad and _backward_works(program, values)
    return Generated(program, values, grad, train_ok, (b1, b2, b3), g.eager_crashes)


def _with_result(g: Gen) -> Program:
    """The program returning 1-3 of its sinks (values no later statement reads)."""
    defined = [t for s in g.stmts for t in s.targets]
    if not defined:
        return g.snapshot(result="{0}", result_args=(g.inputs[0].name,))
    sinks = [t for t in defined if g.uses[t] == 0]
    chosen = [defined[-1]]
    for t in sinks:
        if t not in chosen and len(chosen) < 3 and g.coin(0.6):
            chosen.append(t)
    if g.coin(0.1):
        chosen.append(g.choice([i.name for i in g.inputs]))
    if g.coin(0.15):
        chosen.append(g.choice(defined))
    form = g.choice(RESULT_FORMS) if len(chosen) > 1 else g.choice(("single", "single", "tuple"))
    refs = [f"{{{k}}}" for k in range(len(chosen))]
    if form == "single" and len(chosen) == 1:
        result = "{0}"
    elif form == "list":
        result = "[" + ", ".join(refs) + "]"
    elif form == "dict":
        result = "{{" + ", ".join(f'"out{k}": {r}' for k, r in enumerate(refs)) + "}}"
    else:
        result = "(" + ", ".join(refs) + ("," if len(refs) == 1 else "") + ")"
    return g.snapshot(result=result, result_args=tuple(chosen))


def _call_values(g: Gen, program: Program, rng: np.random.Generator, b3: int) -> dict:
    values = {}
    for spec in program.inputs:
        a, b = g.arrays[spec.name]
        values[spec.name] = {
            "a": a,
            "b": b,
            "a2": draw_values(spec, rng, g.batch_sizes[0]),
            "a3": draw_values(spec, rng, g.batch_sizes[0]),
            "c": draw_values(spec, rng, b3),
        }
    # drawn after the others, which stay what they were for a seed: a larger batch, on
    # either side of a product's 32-row form (programs with run-time sizes assume one)
    b4 = int(rng.integers(20, 70))
    for spec in program.inputs:
        values[spec.name]["d"] = draw_values(spec, rng, b4)
    return values


def _backward_works(program: Program, values: dict) -> bool:
    """Whether eager autograd runs backward through the program (on the first call's values)."""

    try:
        f = _load(program.source(), {}, "check")["f"]
        args = arguments([values[spec.name]["a"] for spec in program.params()], requires_grad=True)
        with irgrad.enable_grad():
            out = f(*args)
            weights = _loss_weights(out, 0)
            if weights:
                _weighted_sum(out, weights).backward()
    except Exception:
        return False
    return True
