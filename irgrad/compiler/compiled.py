"""A compiled function's guarded cache of graphs, and its call.

A call tries each cached :class:`Entry`'s guard (most recently used first) and runs the
graph whose guard holds (:func:`irgrad.compiler.runtime.run`).  On a miss it captures
the call (:mod:`.capture`), builds the graphs (:mod:`.build`), validates them
(:mod:`.validate`) and caches them, or records a graph break; a new size of a symbolic
graph is traced again to check that the program is the same (:mod:`.dynamic`).  After
``RECOMPILE_LIMIT`` graphs a function that keeps changing runs eagerly.  The public API,
``irgrad.compile``, is :mod:`irgrad.compile`.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import warnings
from collections.abc import Callable

from .. import _profiling, _tracing
from ..ir.graph import dataflow_graph
from ..nn.modules.hooks import registered as _global_module_hooks
from ..passes.pipeline import Dumper, PipelineReport
from ..recording.grad_mode import STATE
from ..tensor import Tensor
from ..trace import GraphBreak
from ..utils.collector import collector_paused
from ..utils.pytree import flatten
from . import registry
from .backends import get_backend
from .build import Built, build, build_key, optimized
from .capture import Capture, capture
from .check import checked_call
from .dynamic import SizeChecks, marked_dims, same_program, symbolic
from .explain import Explanation, explain
from .guards import ALIASED, Guard
from .runtime import run
from .state import Uninitialized
from .validate import validate
from .warnings import CompileWarning

RECOMPILE_LIMIT = 8
# Held by the thread tracing and compiling (a miss, a new size): tracing is one per
# process, and a call of any compiled function that misses while another thread holds it
# runs eagerly instead of waiting.
_COMPILING = threading.RLock()


class Entry:
    """One cached graph: what was captured, what was built, and the guard that selects it."""

    def __init__(
        self, capture: Capture, guard: Guard, built: Built | None, symbols: list, timings: list
    ) -> None:
        self.capture = capture
        self.guard = guard
        self.built = built
        self.symbols = symbols  # (symbol, arg leaf position, dim) of a symbolic graph
        self.timings = timings
        self.graph_break = capture.graph_break
        self.validated = ""  # what validation found (see compiler.validate)
        self.runs = 0  # calls this graph answered (the capturing call ran eagerly)
        self.aliased_calls = 0  # calls that ran eagerly: their tensors overlap where the graph writes
        self.traced = None  # a symbolic graph's symbolic trace (compiler.dynamic.same_program)
        self.checked_sizes: set[tuple] = set()  # the sizes a symbolic graph is known right at
        graph = capture.graph
        self.tensor_index = {nid: ("input", i) for i, nid in enumerate(graph.inputs)}
        for k, nid in enumerate(graph.outputs[: capture.n_values]):
            self.tensor_index.setdefault(nid, ("output", k))
        # per replay, the input position of the tensor owning its slot (a parameter's .grad)
        position = {node.path: i for i, node in enumerate(capture.sources) if node is not None}
        self.replay_holders = [position.get(replay.holder.path) for replay in capture.replays]


def _is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def _sizes_key(symbols: list, args: tuple, kwargs: dict) -> tuple:
    """The sizes a call gives a symbolic graph's symbols, in their order."""
    leaves, _ = flatten((args, kwargs), _is_tensor)
    return tuple(leaves[p]._data.shape[d] for _, p, d in symbols)


def _sizes_env(symbols: list, key: tuple) -> dict[str, int]:
    """The symbols' values for the sizes ``key`` (see :func:`_sizes_key`)."""
    return {name: size for (name, _, _), size in zip(symbols, key)}


class Compiled:
    """A compiled function (or a module's call) with its guarded cache of graphs."""

    def __init__(
        self,
        fn: Callable,
        target,
        backend: str,
        dynamic: bool | None,
        fullgraph: bool,
        dump: str | None,
        verify: bool = False,
        name: str | None = None,
        check: bool = False,
    ) -> None:
        self._options = dict(
            backend=backend,
            dynamic=dynamic,
            fullgraph=fullgraph,
            dump=dump,
            verify=verify,
            name=name,
            check=check,
        )
        self.backend_name = backend
        self.backend = get_backend(backend)
        dataflow_graph()  # networkx, imported here (once) rather than inside the first call's compile
        self.fn = fn  # what a call runs: the function, or the module's uncompiled call
        self.target = target  # what the state is walked from: the function or the module
        self.dynamic = bool(dynamic)
        self.fullgraph = fullgraph
        self.dumper = Dumper(dump or os.environ.get("IRGRAD_DUMP"))
        self.verify = verify or os.environ.get("IRGRAD_VERIFY", "") not in ("", "0")
        self.name = name or getattr(fn, "__name__", "forward")
        self.check = check
        self.entries: list[Entry] = []  # most recently used last
        self.builds: dict[str, Built] = {}  # by build_key: what a recompile with the same trace reuses
        self.log: list[str] = []  # compile events: first compile, recompiles with reasons, fallbacks
        self.breaks: list[GraphBreak] = []
        self.varying: set[tuple[int, int]] = set()  # (arg leaf, dim) seen at more than one size
        self.size_checks = SizeChecks()  # when a new size of a symbolic graph is traced to check it
        self.gave_up: str | None = None
        self.warned = False
        registry.track(self)

    def __reduce__(self) -> tuple:
        # a copy (copy.deepcopy of a model compiled in place) compiles afresh: the graphs,
        # native code and guards here belong to the original's objects
        return _compiled_afresh, (self.fn, self.target, self._options)

    @property
    def cache(self) -> list[Entry]:
        return self.entries

    def reset(self) -> None:
        """Forget every graph (``irgrad.compiler.reset()`` calls this for all)."""
        self.entries.clear()
        self.builds.clear()
        self.varying.clear()
        self.size_checks = SizeChecks()
        self.gave_up = None

    # --- calling ----------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if self.backend is None or _tracing.ACTIVE is not None or registry.DISABLED or _global_module_hooks:
            # inside another trace: inlined into its graph; while another thread traces, or a
            # global module hook (Python no graph holds) is registered: eager
            return self.fn(*args, **kwargs)
        roots = (self.target, args, kwargs)
        entries = self.entries
        new_sizes = []  # symbolic graphs that fit the call but have not run at its sizes
        for k in range(len(entries) - 1, -1, -1):
            try:
                entry = entries[k]
            except IndexError:  # another thread moved an entry to the end: look again from there
                continue
            inputs = entry.guard(roots)
            if inputs is not None:
                if entry.symbols:
                    if _sizes_key(entry.symbols, args, kwargs) not in entry.checked_sizes:
                        new_sizes.append(entry)
                        continue  # another graph may know these sizes
                    self.size_checks.served()
                if k != len(entries) - 1:
                    entries.append(entries.pop(k))
                if inputs is ALIASED:  # tensors overlap where the graph writes (guards.Guard._distinct)
                    return self._aliased_call(entry, args, kwargs)
                if entry.graph_break is not None:
                    return self.fn(*args, **kwargs)
                if self.check:
                    return checked_call(self, entry, roots, inputs, args, kwargs)
                entry.runs += 1
                if _profiling.ACTIVE is None:
                    return run(entry, roots, inputs)
                with _profiling.span(f"irgrad.compile: {self.name}"):
                    return run(entry, roots, inputs)
        if not _COMPILING.acquire(blocking=False):
            return self.fn(*args, **kwargs)  # another thread traces or compiles: this call runs eagerly
        try:
            if _tracing.ACTIVE is not None:  # (it began tracing before this thread looked)
                return self.fn(*args, **kwargs)
            if new_sizes:
                return self._new_size(new_sizes, args, kwargs)
            return self._miss(roots, args, kwargs)
        finally:
            _COMPILING.release()

    def _aliased_call(self, entry: Entry, args: tuple, kwargs: dict):
        """A call whose tensors share memory where the graph writes (``f(a, a.view(4))``
        for a graph traced on distinct tensors) runs eagerly: eager code sees each write
        through every alias, the graph does not.  So does a call writing read-only memory
        (eager execution raises)."""
        if not entry.aliased_calls:
            self.log.append(
                "a call whose tensors share memory the graph writes, or whose written memory is read-only, ran eagerly"
            )
        entry.aliased_calls += 1
        return self.fn(*args, **kwargs)

    def _new_size(self, candidates: list[Entry], args: tuple, kwargs: dict):
        """The first call at sizes no symbolic graph fitting it has run at: traced (so it
        runs eagerly), and the first of ``candidates`` whose program the trace is at these
        sizes (see dynamic.same_program) serves them from now on.  Sizes where none is
        (a size past ``if len(x) < 8``) get a graph of their own, symbolic if it can be."""
        first = candidates[0]
        if not self.size_checks.check_now((id(first), _sizes_key(first.symbols, args, kwargs))):
            if self.size_checks.untraced == 1:
                self.log.append(
                    "dynamic shapes: sizes keep changing; a new size runs eagerly, and is checked when it comes again"
                )
            return self.fn(*args, **kwargs)
        with collector_paused():
            cap = capture(self.target, args, kwargs, name=self.name, fullgraph=self.fullgraph, call=self.fn)
            # what the passes make of the trace: made once, when a candidate's trace matches
            graphs = functools.cache(lambda: optimized(cap, self.backend.never_recomputed)[:2])
            for entry in candidates:
                key = _sizes_key(entry.symbols, args, kwargs)
                if same_program(
                    entry.traced, entry.capture, cap, _sizes_env(entry.symbols, key), entry.built, graphs
                ):
                    entry.checked_sizes.add(key)
                    return cap.result
            if len(self.entries) >= RECOMPILE_LIMIT:
                return cap.result  # (the call ran eagerly as it was traced)
            self.log.append(f"dynamic shapes: another program at sizes {key}; compiled for them")
            return self._compiled_from(cap, args, kwargs, PipelineReport())

    def _miss(self, roots: tuple, args: tuple, kwargs: dict):
        if self.gave_up is not None:
            return self.fn(*args, **kwargs)
        if not self.entries:
            self.log.append("compiled for the first call")
        else:
            reason = self._nearest(roots)
            if len(self.entries) >= RECOMPILE_LIMIT:
                # a capture that breaks guards the state it read before the break: state
                # that changes every call (a list a hook appends to) recaptures every call
                broke = "".join(
                    f"; every capture broke the graph ({e.graph_break})"
                    for e in self.entries[-1:]
                    if all(entry.graph_break is not None for entry in self.entries)
                )
                self.gave_up = (
                    f"recompiled {RECOMPILE_LIMIT} times (last because {reason}){broke}; "
                    "new call signatures run eagerly"
                )
                self.log.append(self.gave_up)
                self._warn(self.gave_up)
                return self.fn(*args, **kwargs)
            self.log.append(f"recompiled: {reason}")
            self._note_varying(args, kwargs)
        return self._compile(args, kwargs)

    def _nearest(self, roots: tuple) -> str:
        """Why the closest cached graph (the latest one of this grad mode) does not fit."""
        same_mode = [e for e in self.entries if e.guard.grad_enabled is STATE.enabled]
        return (same_mode or self.entries)[-1].guard.mismatch(roots)

    def _note_varying(self, args: tuple, kwargs: dict) -> None:
        """With ``dynamic=True``, remember the argument dims whose size differs from the last graph's."""
        if not self.dynamic:
            return
        leaves, _ = flatten((args, kwargs), _is_tensor)
        last = self.entries[-1].capture
        old = [s.info[1] if s is not None and s.kind == "tensor" else None for s in last.arg_sources]
        for pos, t in enumerate(leaves):
            if pos < len(old) and old[pos] is not None and len(old[pos]) == t.ndim:
                for d, (a, b) in enumerate(zip(old[pos], t._data.shape)):
                    if a != b:
                        self.varying.add((pos, d))

    def _compile(self, args: tuple, kwargs: dict):
        with collector_paused(), _profiling.span(f"irgrad.compile: compiling {self.name}"):
            return self._compile_now(args, kwargs)

    def _compile_now(self, args: tuple, kwargs: dict):
        report = PipelineReport()
        start = time.perf_counter()
        try:
            cap = capture(self.target, args, kwargs, name=self.name, fullgraph=self.fullgraph, call=self.fn)
        except Uninitialized as placeholder:  # (raised by the state walk, before the call ran)
            # a lazy module's first call materializes its parameters: eager, and the next compiles
            self.log.append(f"{placeholder} is uninitialized (a lazy module's): this call ran eagerly")
            return self.fn(*args, **kwargs)
        report.add("trace", time.perf_counter() - start)
        return self._compiled_from(cap, args, kwargs, report)

    def _compiled_from(
        self,
        cap: Capture,
        args: tuple,
        kwargs: dict,
        report: PipelineReport,
    ):
        """Add the entry a trace of this call makes (a graph, symbolic in the dims that vary
        where it can be, or a graph break) and return the call's result."""
        result = cap.result
        if cap.graph_break is not None:
            self._add(cap, None, [], report)
            self.breaks.append(cap.graph_break)
            self.log.append(f"graph break: {cap.graph_break}; this call signature runs eagerly")
            self._warn(f"graph break: {cap.graph_break}; this call signature runs eagerly")
            return result
        key = build_key(cap)
        built = self.builds.get(key)
        if built is None:
            built = self.builds[key] = build(cap, self.backend, self.dumper, report, self.verify)
        else:
            self.log.append("the trace equals an earlier one: its build is reused")
        start = time.perf_counter()
        problem, validated = validate(self.fn, args, kwargs, cap, built.run_forward, seed=len(self.entries))
        report.add("validate", time.perf_counter() - start)
        if problem is not None:
            cap.graph_break = GraphBreak(problem, None)
            self._add(cap, None, [], report)
            self.breaks.append(cap.graph_break)
            self.log.append(f"graph rejected: {problem}; this call signature runs eagerly")
            self._warn(f"graph rejected: {problem}; this call signature runs eagerly")
            return result
        symbols: list = []
        leaves, _ = flatten((args, kwargs), _is_tensor)
        dims = sorted(set(marked_dims(leaves)) | {(p, d) for p, d in self.varying if p < len(leaves)})
        if dims:
            start = time.perf_counter()
            outcome = symbolic(self.fn, args, kwargs, cap, built, dims, self.backend, self.name, self.dumper)
            report.add("dynamic shapes", time.perf_counter() - start)
            if isinstance(outcome, str):
                self.log.append(f"dynamic shapes: {outcome}; specialising per size")
            else:
                built, symbols, traced, probed = outcome
                names = sorted({s for s, _, _ in symbols})
                self.log.append(f"dynamic shapes: one graph for every size of {', '.join(names)}")
                self.dumper.write("dynamic", built.forward)
                probed += self._drop_covered(symbols, traced, cap, built)
        entry = self._add(cap, built, symbols, report, validated)
        if symbols:
            entry.traced = traced
            entry.checked_sizes.update([_sizes_key(symbols, args, kwargs), *probed])
            return result
        return self._first_result(entry, (self.target, args, kwargs), result)

    def _first_result(self, entry: Entry, roots: tuple, traced):
        """The capturing call's result.  The trace ran the function eagerly; where running
        the graph once more is unobservable (:attr:`Capture.reruns_unobservably`), the
        result comes from the compiled program instead, as every later call's does: the
        first call's values are the compiled function's, not eager rounding of them, and
        its backward runs compiled (W5's first backward: 2.5 ms native against 7.5 eager)."""
        if self.check or entry.built is None or not entry.capture.reruns_unobservably:
            return traced
        inputs = entry.guard(roots)
        if not isinstance(inputs, list):  # (ALIASED: the call runs as it ran, eagerly)
            return traced
        entry.runs += 1
        return run(entry, roots, inputs)

    def _add(
        self, cap: Capture, built: Built | None, symbols: list, report: PipelineReport, validated: str = ""
    ) -> Entry:
        nodes = [(name, cap.arg_sources[p], d) for name, p, d in symbols]
        inputs = [src if src is not None else t for src, t in zip(cap.sources, cap.inputs)]
        guard = Guard(cap.snapshot, inputs, nodes, STATE.enabled, written=tuple(cap.mutated))
        entry = Entry(cap, guard, built, symbols, report.timings)
        entry.validated = validated
        cap.release()
        self.entries.append(entry)
        return entry

    def _drop_covered(self, symbols: list, traced, base: Capture, built: Built) -> list[tuple]:
        """A new symbolic graph supersedes the static graphs of the same call shape; returns
        the sizes of those whose trace and built graphs are its own (where it is known right)."""
        kept, known = [], []
        for e in self.entries:
            if e.symbols or e.graph_break:
                kept.append(e)
                continue
            if e.built is None:
                continue
            shapes = [
                s.info[1] if s is not None and s.kind == "tensor" else None for s in e.capture.arg_sources
            ]
            try:
                key = tuple(shapes[p][d] for _, p, d in symbols)
            except (IndexError, TypeError):
                continue
            graphs = (e.built.forward, e.built.backward)  # (what the passes made of its trace)
            if same_program(traced, base, e.capture, _sizes_env(symbols, key), built, lambda g=graphs: g):
                known.append(key)
        self.entries = kept
        return known

    def _warn(self, message: str) -> None:
        if not self.warned:
            self.warned = True
            warnings.warn(f"irgrad.compile({self.name}): {message}", CompileWarning, stacklevel=4)

    # --- inspection ---------------------------------------------------------------------------
    def explain(self) -> Explanation:
        """Graphs, guards, free inputs, side effects, recompiles and breaks (text with data)."""
        text = explain(self)
        print(text)
        return text


def _compiled_afresh(fn: Callable, target, options: dict) -> Compiled:
    """A new :class:`Compiled` with ``options`` (what a copy of one is made by)."""
    return Compiled(fn, target, **options)
