"""Shrink a failing case to a minimal one that still fails the same way.

Greedy reduction: candidates are tried smallest-first within each pass, and one is
kept when the case still fails with the same signature (status and aspect, e.g.
"crash: forward KeyError" or "mismatch: grad value") and is strictly smaller by
``size()``.  Passes, repeated until none makes progress or the budget is spent:

- drop calls, outputs, unused arguments, and the autograd/dynamic settings;
- delete chunks of statements (halves, quarters, ... single ones); a deleted
  statement's results, where still read, become new inputs holding the values the
  statement computed (observed by running the program), so the rest is unchanged;
- cut a dependency: replace an operand computed by an earlier statement with an
  input holding its value, then drop what became dead;
- simplify statements (drop one keyword argument, unwrap ``(x.abs() + 0.5)``);
- shrink inputs: dims cropped (to 1, half, one less, 0), ranks removed, float64 to
  float32, values replaced by zeros, ones or rounded values;
- finally rename everything in order (``x0, i1, ...``, ``v0, v1, ...``).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import replace

import numpy as np

import irgrad

from ..differential import arguments
from .context import Gen
from .program import Input, Program, Stmt, input_prefix
from .runner import Case, Outcome, run_case

KWARG = re.compile(r", (?:\w+=)?(?:[\w.'\"-]+|\([^()]*\)|float\('[a-z-]+'\))(?=[,)])")
POSITIVE_WRAP = "({0}.abs() + 0.5)"


def body(case: Case) -> Program:
    """The straight-line program of a case (a stateful program's function body)."""
    return getattr(case.program, "body", case.program)


def with_body(case: Case, program: Program, **changes) -> Case:
    """The case with its straight-line program replaced (and other fields changed)."""
    new = replace(case.program, body=program) if hasattr(case.program, "body") else program
    return replace(case, program=new, **changes)


def size(case: Case) -> float:
    """How big a case is; a shrink step must make it strictly smaller."""
    p = body(case)
    state = case.program.state_size() if hasattr(case.program, "state_size") else 0
    # a size-0 dim counts as 1 plus a penalty: empty tensors are a special case that can
    # hide what a failure is about, so the shrinker does not move towards them
    arrays = [np.asarray(a) for call in case.calls for a in call.values()]
    elements = sum(math.prod(max(d, 1) for d in a.shape) + a.shape.count(0) for a in arrays)
    values = sum(_value_cost(np.asarray(a)) for call in case.calls for a in call.values())
    settings = case.train + case.dynamic + len(case.mark)
    source = sum(len(s.template) for s in p.stmts) + len(p.result)
    return (
        1000 * len(p.stmts)
        + 100 * len(p.inputs)
        + state
        + 30 * len(case.calls)
        + 10 * settings
        + 2 * elements
        + values
        + 0.01 * source
    )


def _value_cost(a: np.ndarray) -> int:
    if a.dtype == bool or a.size == 0:
        return int(a.sum()) if a.dtype == bool else 0
    simple = np.isin(a, (0, 1))
    integral = np.isfinite(a) & (a == np.round(a)) if a.dtype.kind == "f" else np.ones(a.shape, bool)
    return int(np.sum(~simple) + np.sum(~integral))


class Shrinker:
    """Shrinks one failing case (see the module docstring)."""

    def __init__(
        self, case: Case, outcome: Outcome, max_runs: int = 400, max_seconds: float = 60.0, check=run_case
    ) -> None:
        self.check = check  # runs a case and tells what happened
        self.case = case
        self.outcome = outcome
        self.target = outcome.signature()
        self.runs = 0
        self.max_runs = max_runs
        self.deadline = time.perf_counter() + max_seconds

    def out_of_budget(self) -> bool:
        return self.runs >= self.max_runs or time.perf_counter() > self.deadline

    def try_candidate(self, candidate: Case | None) -> bool:
        if candidate is None or self.out_of_budget():
            return False
        candidate = cleanup(candidate)
        if size(candidate) >= size(self.case):
            return False
        self.runs += 1
        outcome = self.check(candidate)
        if outcome.failed and outcome.signature() == self.target:
            self.case, self.outcome = candidate, outcome
            return True
        return False

    def run(self) -> tuple[Case, Outcome]:
        passes = (
            self.drop_calls,
            self.drop_outputs,
            self.delete_statements,
            self.drop_inputs,
            self.cut_operands,
            self.simplify_settings,
            self.simplify_state,
            self.simplify_statements,
            self.shrink_inputs,
            self.simplify_values,
        )
        progress = True
        while progress and not self.out_of_budget():
            progress = False
            for shrink_pass in passes:
                while not self.out_of_budget() and any(self.try_candidate(c) for c in shrink_pass()):
                    progress = True
        final = canonical(self.case)
        self.runs += 1
        outcome = self.check(final)
        if outcome.failed and outcome.signature() == self.target:
            self.case, self.outcome = final, outcome
        return self.case, self.outcome

    # --- passes: each yields candidates, the first that still fails is kept -------------------
    def drop_calls(self):
        calls = self.case.calls
        for k in range(len(calls)):
            if len(calls) > 1:
                yield replace(self.case, calls=calls[:k] + calls[k + 1 :])

    def drop_outputs(self):
        """Return one of the outputs, or any earlier value (what follows it then dies)."""
        p = body(self.case)
        if len(p.result_args) > 1 or p.result != "{0}":
            for name in p.result_args:
                yield with_body(self.case, replace(p, result="{0}", result_args=(name,)))
        for name in _in_order(p):
            if not name.startswith("s") and (name,) != p.result_args:
                yield with_body(self.case, replace(p, result="{0}", result_args=(name,)))

    def drop_inputs(self):
        used = body(self.case).used_names()
        for spec in body(self.case).params():
            if spec.name not in used:
                yield without_input(self.case, spec.name)

    def delete_statements(self):
        n = len(body(self.case).stmts)
        chunk = max(n // 2, 1)
        while chunk >= 1:
            for start in range(n - chunk, -1, -chunk):
                yield self.without(range(start, start + chunk))
            if chunk == 1:
                break
            chunk //= 2

    def cut_operands(self):
        p = body(self.case)
        defined = {t for s in p.stmts for t in s.targets}
        for k in reversed(range(len(p.stmts))):
            for j, arg in enumerate(p.stmts[k].args):
                if arg in defined:
                    yield self.with_input_for(k, j)

    def simplify_settings(self):
        c = self.case
        if c.train:
            yield replace(c, train=False)
        if c.dynamic:
            yield replace(c, dynamic=False, mark=tuple(i.name for i in body(c).params() if i.batch))
        for name in c.mark:
            yield replace(c, mark=tuple(m for m in c.mark if m != name))

    def simplify_state(self):
        for program in getattr(self.case.program, "reductions", tuple)():
            yield replace(self.case, program=program)

    def simplify_statements(self):
        p = body(self.case)
        for k, stmt in enumerate(p.stmts):
            for template in _simpler_templates(stmt.template):
                stmts = p.stmts[:k] + (replace(stmt, template=template),) + p.stmts[k + 1 :]
                yield with_body(self.case, replace(p, stmts=stmts))

    def shrink_inputs(self):
        c = self.case
        for spec in body(c).params():
            first = np.asarray(c.calls[0][spec.name])
            if spec.dtype == "float64":
                yield self.map_input(spec.name, lambda a: a.astype(np.float32), dtype="float32")
            for axis, s in enumerate(first.shape):
                for new in sorted({1, s // 2, s - 1}):
                    if 0 < new < s:
                        yield self.map_input(spec.name, lambda a, axis=axis, new=new: _crop(a, axis, new))
                yield self.map_input(
                    spec.name,
                    lambda a, axis=axis: np.take(a, 0, axis=axis) if a.shape[axis] else a.sum(axis=axis),
                )

    def simplify_values(self):
        for spec in body(self.case).params():
            yield self.map_input(spec.name, np.zeros_like)
            yield self.map_input(spec.name, np.ones_like)
            if spec.dtype in ("float32", "float64"):
                yield self.map_input(
                    spec.name, lambda a: np.where(np.isfinite(a), np.round(a), a).astype(a.dtype)
                )

    # --- building candidates ----------------------------------------------------------------------
    def map_input(self, name: str, fn, dtype: str | None = None) -> Case:
        c = self.case
        calls = tuple({**call, name: np.asarray(fn(np.asarray(call[name])))} for call in c.calls)
        program = body(c)
        if dtype is not None:
            inputs = tuple(replace(i, dtype=dtype) if i.name == name else i for i in program.inputs)
            program = replace(program, inputs=inputs)
        return with_body(c, program, calls=calls)

    def without(self, indices) -> Case | None:
        """The case without the statements at ``indices``; their results read later become inputs."""
        c = self.case
        drop = set(indices)
        p = body(c)
        removed = {t for k in drop for t in p.stmts[k].targets}
        kept = [s for k, s in enumerate(p.stmts) if k not in drop]
        needed = [
            t for t in _in_order(p) if t in removed and (any(t in s.args for s in kept) or t in p.result_args)
        ]
        return _as_inputs(with_body(c, replace(p, stmts=tuple(kept))), c, needed)

    def with_input_for(self, k: int, j: int) -> Case | None:
        """The case with operand ``j`` of statement ``k`` read from a new input holding its value."""
        c = self.case
        p = body(c)
        stmt = p.stmts[k]
        name = _fresh_name(p, "tmp")
        args = stmt.args[:j] + (name,) + stmt.args[j + 1 :]
        stmts = p.stmts[:k] + (replace(stmt, args=args),) + p.stmts[k + 1 :]
        observed = observe(c, upto=k)
        if observed is None or stmt.args[j] not in observed[0]:
            return None
        values = [obs[stmt.args[j]] for obs in observed]
        return _add_input(with_body(c, replace(p, stmts=stmts)), name, values)


def _crop(a: np.ndarray, axis: int, new: int) -> np.ndarray:
    return np.take(a, np.arange(min(new, a.shape[axis])), axis=axis)


def _simpler_templates(template: str):
    if POSITIVE_WRAP in template:
        yield template.replace(POSITIVE_WRAP, "{0}")
    for m in KWARG.finditer(template):
        yield template[: m.start()] + template[m.end() :]


def _in_order(p: Program) -> list[str]:
    return [t for s in p.stmts for t in s.targets]


def _fresh_name(p: Program, base: str) -> str:
    taken = {i.name for i in p.inputs} | set(_in_order(p))
    k = 0
    while f"{base}{k}" in taken:
        k += 1
    return f"{base}{k}"


def _as_inputs(case: Case, original: Case, names: list[str]) -> Case | None:
    """Make each of ``names`` (results of the original program) an input of ``case``."""
    if not names:
        return case
    observed = observe(original)
    if observed is None:
        return None
    for name in names:
        values = [obs.get(name) for obs in observed]
        if any(v is None for v in values):
            return None
        new = _fresh_name(body(case), "tmp")
        case = _rename_reads(case, name, new)
        case = _add_input(case, new, values)
    return case


def _rename_reads(case: Case, old: str, new: str) -> Case:
    p = body(case)
    stmts = tuple(replace(s, args=tuple(new if a == old else a for a in s.args)) for s in p.stmts)
    result_args = tuple(new if a == old else a for a in p.result_args)
    return with_body(case, replace(p, stmts=stmts, result_args=result_args))


def _add_input(case: Case, name: str, values: list) -> Case | None:
    """A new argument ``name`` taking ``values[k]`` at call k (a Python number is inlined)."""
    first = values[0]
    p = body(case)
    if not isinstance(first, np.ndarray):
        literal = repr(first)
        if not all(repr(v) == literal for v in values):
            return None
        stmts = tuple(replace(s, args=tuple(literal if a == name else a for a in s.args)) for s in p.stmts)
        return with_body(case, replace(p, stmts=stmts))
    spec = Input(name=name, dtype=str(first.dtype), shape=first.shape, draw="fixed")
    calls = tuple({**call, name: v} for call, v in zip(case.calls, values))
    return with_body(case, replace(p, inputs=p.inputs + (spec,)), calls=calls)


def observe(case: Case, upto: int | None = None) -> list[dict] | None:
    """Per call, the value of every variable right after the statement that made it.

    Statements run one by one as the function would run them (same grad mode,
    same seed); ``upto`` stops before statement ``upto``.
    """

    p = body(case)
    stmts = p.stmts if upto is None else p.stmts[:upto]
    refs = p.refs()
    seen = []
    for k, call in enumerate(case.calls):
        ns = Gen._namespace()
        params = [spec.name for spec in p.params()]
        ns.update(zip(params, arguments([call[name] for name in params], case.train)))
        irgrad.manual_seed(case.seed + k)
        values = {}
        try:
            with irgrad.set_grad_enabled(case.train):
                for stmt in stmts:
                    exec(stmt.render(refs), ns)
                    for t in stmt.targets:
                        v = ns[t]
                        values[t] = v.detach().numpy().copy() if isinstance(v, irgrad.Tensor) else v
        except Exception:
            return None
        seen.append(values)
    return seen


def _is_pure(stmt: Stmt) -> bool:
    """Whether deleting the statement can only matter through its results."""
    t = stmt.template
    return bool(stmt.targets) and "_(" not in t and "inplace" not in t and "training=True" not in t


def cleanup(case: Case) -> Case:
    """Drop pure statements whose results nobody reads (unused arguments stay: the
    failure may be about one, e.g. its gradient)."""
    p = body(case)
    stmts = list(p.stmts)
    changed = True
    while changed:
        changed = False
        read = set(p.result_args)
        for s in stmts:
            read.update(s.args)
        for k in reversed(range(len(stmts))):
            if _is_pure(stmts[k]) and not any(t in read for t in stmts[k].targets):
                del stmts[k]
                changed = True
                break
    return with_body(case, replace(p, stmts=tuple(stmts)))


def without_input(case: Case, name: str) -> Case:
    p = body(case)
    program = replace(p, inputs=tuple(i for i in p.inputs if i.name != name))
    calls = tuple({k: v for k, v in call.items() if k != name} for call in case.calls)
    return with_body(case, program, calls=calls, mark=tuple(m for m in case.mark if m != name))


def canonical(case: Case) -> Case:
    """Rename inputs ``x0, i1, m2...`` and results ``v0, v1...`` in order of appearance."""
    p = body(case)
    names: dict[str, str] = {}
    for k, spec in enumerate(p.params()):
        names[spec.name] = f"{input_prefix(spec.dtype)}{k}"
    scalar = {t for s in p.stmts for t in s.targets if t.startswith("s")}
    n = 0
    for t in _in_order(p):
        names[t] = f"{'s' if t in scalar else 'v'}{n}"
        n += 1
    inputs = tuple(replace(i, name=names.get(i.name, i.name)) for i in p.inputs)
    stmts = tuple(
        replace(s, targets=tuple(names[t] for t in s.targets), args=tuple(names.get(a, a) for a in s.args))
        for s in p.stmts
    )
    program = replace(
        p, inputs=inputs, stmts=stmts, result_args=tuple(names.get(a, a) for a in p.result_args)
    )
    calls = tuple({names[k]: v for k, v in call.items()} for call in case.calls)
    return with_body(case, program, calls=calls, mark=tuple(names[m] for m in case.mark))


def shrink(
    case: Case, outcome: Outcome, max_runs: int = 400, max_seconds: float = 60.0, check=run_case
) -> tuple[Case, Outcome, int]:
    """The smallest case found that fails like ``case`` (as ``check`` tells), its outcome and the runs it took."""
    s = Shrinker(case, outcome, max_runs, max_seconds, check)
    small, result = s.run()
    return small, result, s.runs
