"""``irgrad.compile``: trace, optimise and run a function or module as a graph.

Each call is checked against *guards* (input shapes, dtypes, requires_grad and
layout; grad mode; train/eval mode of every submodule; the identity, shape and
dtype of every parameter and buffer).  The first call with a new guard key traces
the function, runs the pass pipeline and builds an executable; later calls with
the same key reuse it.  A failed guard leads to a retrace, recorded with its
reason.  With ``dynamic=True`` (or ``mark_dynamic``) the marked sizes are left out
of the key, so one graph serves every size: the graph is retraced for a new size
only when it is not valid for it.

Training: when grad mode is on and an input or parameter requires grad, the graph
is differentiated (the IR autodiff pass) and partitioned into a forward graph and a
backward graph.  The forward runs at call time; its outputs carry a ``grad_fn``
that runs the backward graph, so ``loss.backward()`` fills ``.grad`` exactly as
eager autograd does.

Graph breaks (Python reading a traced value) make that guard key fall back to
eager execution, with the cause and the source line kept for ``explain()``;
``fullgraph=True`` makes them errors instead.
"""

from __future__ import annotations

import functools
import os
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .autograd.grad_mode import STATE, no_grad
from .autograd.graph import edge_of, next_function
from .ir import Graph, compile_graph
from .ops import Kind
from .passes.pipeline import Dumper, PipelineReport, default_passes, lowering_passes, run_passes
from .tensor import Tensor
from .trace import GraphBreak, Trace, module_tree, trace_call
from .utils.pytree import flatten, unflatten

BACKENDS = ("llvm", "numpy", "eager")
# The numpy backend runs every op as a separate pass over memory, so recomputing an
# elementwise value in the backward costs as much as it saves; only views are free.
NUMPY_NEVER_RECOMPUTED = frozenset(Kind) - {Kind.MOVEMENT}
CACHE_LIMIT = 8


def mark_dynamic(t: Tensor, dim: int) -> Tensor:
    """Mark dimension ``dim`` of ``t`` as dynamic: compiled code will not specialise on its size."""
    dims = set(t.__dict__.get("_dynamic_dims", ()))
    dims.add(dim % max(t.ndim, 1))
    t.__dict__["_dynamic_dims"] = frozenset(dims)
    return t


# --- guards -------------------------------------------------------------------------------


_TENSORS_ONLY_SPECS: dict[int, str] = {}  # number of arguments -> spec of f(t1, ..., tn)


def _flatten_call(args: tuple, kwargs: dict) -> tuple[list, str]:
    """The call's tensor arguments and its structure as text (the guard's ``spec``).

    The common call, tensors only, skips the tree walk: its spec depends only on
    how many tensors there are."""
    if not kwargs and all([isinstance(a, Tensor) for a in args]):
        spec = _TENSORS_ONLY_SPECS.get(len(args))
        if spec is None:
            spec = _TENSORS_ONLY_SPECS[len(args)] = repr(flatten((args, kwargs), _is_tensor)[1])
        return list(args), spec
    leaves, tree = flatten((args, kwargs), _is_tensor)
    return leaves, repr(tree)


def _is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def _tensor_guard(t: Tensor, dynamic: bool) -> tuple:
    dims = t.__dict__.get("_dynamic_dims", frozenset({0} if dynamic and t.ndim else ()))
    shape = tuple(None if i in dims else s for i, s in enumerate(t._data.shape))
    return ("tensor", shape, t._data.dtype.str, t._rg, t._data.flags.c_contiguous)


@dataclass(frozen=True)
class GuardKey:
    """Everything a compiled graph was specialised on."""

    inputs: tuple
    spec: str
    grad_enabled: bool
    training: tuple
    state: tuple

    def describe_change(self, other: GuardKey) -> str:
        """Why ``self`` (new call) does not match ``other`` (an earlier compile)."""
        reasons = []
        if self.grad_enabled != other.grad_enabled:
            reasons.append(f"grad mode changed from {other.grad_enabled} to {self.grad_enabled}")
        if self.training != other.training:
            reasons.append("train/eval mode changed")
        if self.spec != other.spec or len(self.inputs) != len(other.inputs):
            reasons.append("the arguments' structure or non-tensor values changed")
        else:
            for i, (a, b) in enumerate(zip(self.inputs, other.inputs)):
                if a == b:
                    continue
                if a[0] == b[0] == "tensor":
                    for what, j in (("shape", 1), ("dtype", 2), ("requires_grad", 3), ("contiguity", 4)):
                        if a[j] != b[j]:
                            reasons.append(f"input {i} {what} changed from {_show(b[j])} to {_show(a[j])}")
                else:
                    reasons.append(f"argument {i} changed from {b[2]!r} to {a[2]!r}")
        if self.state != other.state:
            reasons.append("a parameter or buffer was replaced or changed shape/dtype/requires_grad")
        return "; ".join(reasons) or "unknown change"


def _show(value) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join("*" if v is None else str(v) for v in value) + "]"
    return str(value)


# --- compiled artifacts ---------------------------------------------------------------------


@dataclass
class Entry:
    """What one guard key compiled to."""

    key: GuardKey
    trace: Trace
    forward: Graph | None = None
    backward: Graph | None = None
    run_forward: Callable | None = None
    run_backward: Callable | None = None
    wrt: list = field(default_factory=list)  # input positions that receive gradients
    n_saved: int = 0
    timings: list = field(default_factory=list)
    dynamic: list = field(default_factory=list)  # (symbol, leaf position, dim) when the graph is symbolic

    @property
    def graph_break(self) -> GraphBreak | None:
        return self.trace.graph_break


class CompiledBackward:
    """The grad_fn of a compiled forward's outputs: runs the compiled backward graph."""

    def __init__(self, entry: Entry, saved: list, inputs: list, out_meta: list) -> None:
        self.entry = entry
        self.saved = saved
        self.edges = tuple(edge_of(inputs[i]) for i in entry.wrt)
        self.n_outputs = len(out_meta)
        self.out_meta = out_meta
        self.hooks = None
        self.retained = None
        self.freed = False

    def name(self) -> str:
        return "CompiledFunctionBackward"

    @property
    def next_functions(self) -> tuple:
        return tuple(next_function(e) for e in self.edges)

    def apply(self, grads: list, F, as_tensors: bool, release: bool = False) -> tuple:
        """Run the compiled backward graph on the saved values and output gradients."""
        if as_tensors:
            raise RuntimeError(
                "irgrad.compile: differentiating a compiled backward (create_graph=True) is not "
                "supported; compile with backend='eager' for higher-order gradients"
            )
        if self.freed:
            from .autograd.graph import FREED_MESSAGE

            raise RuntimeError(FREED_MESSAGE)
        seeds = [
            g if g is not None else np.zeros(shape, dtype) for g, (shape, dtype) in zip(grads, self.out_meta)
        ]
        grads_in = tuple(self.entry.run_backward(self.saved + seeds))
        if release:
            self.saved = []
            self.freed = True
        return grads_in


class Compiled:
    """A compiled function (or a module's forward) with its guard-keyed cache."""

    def __init__(
        self,
        fn: Callable,
        module,
        backend: str,
        dynamic: bool,
        fullgraph: bool,
        dump: str | None,
        verify: bool = False,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"irgrad.compile: unknown backend {backend!r}; choose one of {BACKENDS}")
        if backend == "llvm":
            warnings.warn(
                "irgrad.compile: the 'llvm' backend is not available yet; using the 'numpy' backend",
                stacklevel=3,
            )
            backend = "numpy"
        self.fn = fn
        self.module = module
        self.backend = backend
        self.dynamic = dynamic
        self.fullgraph = fullgraph
        self.dumper = Dumper(dump or os.environ.get("IRGRAD_DUMP"))
        self.verify = verify or os.environ.get("IRGRAD_VERIFY", "") not in ("", "0")
        self.cache: OrderedDict[GuardKey, Entry] = OrderedDict()
        self.log: list[str] = []  # compile events: first compile, recompiles with reasons, evictions
        self.breaks: list[GraphBreak] = []

    # --- guards ---------------------------------------------------------------------------
    def guard_key(self, args: tuple, kwargs: dict) -> tuple[GuardKey, list, list]:
        """The key of this call, its tensor arguments and the module's parameters and buffers."""
        leaves, spec = _flatten_call(args, kwargs)
        inputs = tuple([_tensor_guard(t, self.dynamic) for t in leaves])
        training: tuple = ()
        state: tuple = ()
        tensors: list = []
        if self.module is not None:
            modules, tensors = module_tree(self.module)
            training = tuple([m.training for m in modules])
            state = tuple([(id(t), t._data.shape, t._data.dtype.str, t._rg) for t in tensors])
        return GuardKey(inputs, spec, STATE.enabled, training, state), leaves, tensors

    # --- calling ----------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if self.backend == "eager":
            return self.fn(*args, **kwargs)
        key, leaves, state = self.guard_key(args, kwargs)
        entry = self.cache.get(key)
        if entry is not None and (not self.dynamic or _fits(entry, leaves)):
            self.cache.move_to_end(key)
            if entry.graph_break is not None:
                return self.fn(*args, **kwargs)
            return self._run(entry, leaves + state)
        return self._compile_and_run(key, args, kwargs)

    def _compile_and_run(self, key: GuardKey, args: tuple, kwargs: dict):
        if not self.cache:
            self.log.append("compiled for the first call")
        else:
            nearest = next(reversed(self.cache))
            self.log.append(f"recompiled: {key.describe_change(nearest)}")
        report = PipelineReport()
        start = time.perf_counter()
        needs_grad = STATE.enabled
        tr = trace_call(
            self.fn,
            args,
            kwargs,
            module=self.module,
            name=type(self.module).__name__
            if self.module is not None
            else getattr(self.fn, "__name__", "forward"),
            fullgraph=self.fullgraph,
        )
        report.add("trace", time.perf_counter() - start)
        entry = Entry(key, tr)
        if tr.graph_break is not None:
            self.breaks.append(tr.graph_break)
            self.log.append(f"graph break: {tr.graph_break}; this call signature runs eagerly")
        else:
            self._build(entry, needs_grad, report)
            start = time.perf_counter()
            problem = self._validate(entry, args, kwargs)
            report.add("validate", time.perf_counter() - start)
            if problem is not None:
                tr.graph_break = GraphBreak(problem, None)
                self.breaks.append(tr.graph_break)
                self.log.append(f"graph rejected: {problem}; this call signature runs eagerly")
                entry.timings = report.timings
                self.cache[key] = entry
                return tr.result
            dims = self._dynamic_dims(args, kwargs)
            if dims:
                start = time.perf_counter()
                self._generalize(entry, args, kwargs, dims, needs_grad)
                report.add("dynamic shapes", time.perf_counter() - start)
        entry.timings = report.timings
        self.cache[key] = entry
        if len(self.cache) > CACHE_LIMIT:
            self.cache.popitem(last=False)
            self.log.append(f"cache limit {CACHE_LIMIT} reached: evicted the oldest graph")
        return tr.result  # the traced call ran eagerly and its result is exact

    def _build(self, entry: Entry, needs_grad: bool, report: PipelineReport) -> None:
        tr = entry.trace
        self.dumper.write("traced", tr.graph)
        graph = run_passes(tr.graph, default_passes(), check=self.verify, dumper=self.dumper, report=report)
        wrt = (
            [i for i, t in enumerate(tr.input_tensors) if t._rg and t.is_floating_point()]
            if needs_grad
            else []
        )
        entry.wrt = wrt
        if wrt:
            from .passes.autodiff import autodiff
            from .passes.partition import partition

            start = time.perf_counter()
            n_results = tr.n_results
            results = graph.copy()
            results.set_outputs(graph.outputs[:n_results])  # buffer write-backs are not differentiated
            joint = autodiff(results, wrt)  # positions in graph.inputs
            writes = graph.outputs[n_results:]
            joint.set_outputs(joint.outputs[:n_results] + writes + joint.outputs[n_results:])
            forward, backward = partition(joint, n_results + len(writes), n_results, NUMPY_NEVER_RECOMPUTED)
            report.add("autodiff+partition", time.perf_counter() - start)
            self.dumper.write("joint", joint)
            forward = run_passes(
                forward, default_passes(), check=self.verify, dumper=self.dumper, report=report
            )
            backward = run_passes(
                backward, default_passes(), check=self.verify, dumper=self.dumper, report=report
            )
            self.dumper.write("forward", forward)
            self.dumper.write("backward", backward)
            forward = run_passes(
                forward, lowering_passes(), check=self.verify, dumper=self.dumper, report=report
            )
            backward = run_passes(
                backward, lowering_passes(), check=self.verify, dumper=self.dumper, report=report
            )
            entry.forward, entry.backward = forward, backward
            entry.n_saved = len(forward.outputs) - n_results - len(writes)
            entry.run_backward = compile_graph(backward)
        else:
            entry.forward = run_passes(
                graph, lowering_passes(), check=self.verify, dumper=self.dumper, report=report
            )
        entry.run_forward = compile_graph(entry.forward)

    # --- validation ---------------------------------------------------------------------------
    def _validate(self, entry: Entry, args: tuple, kwargs: dict) -> str | None:
        """Check the new graph against eager execution on *other* input values.

        Library code that computes with numpy on a traced tensor's data would make the
        tracer capture a value as a constant; such a graph is right for the traced
        inputs only.  Running it and the eager function on perturbed inputs (floats
        jittered, integers and bools permuted, so indices stay valid) exposes that, and
        the call signature then runs eagerly: a slow answer, never a wrong one.
        """
        from .random import get_rng_state, set_rng_state

        leaves, spec = flatten((args, kwargs), _is_tensor)
        rng = np.random.default_rng(len(self.cache))
        other = [_perturbed(t, rng) for t in leaves]
        new_args, new_kwargs = unflatten(spec, other)
        inputs = other + _state_tensors(self.module)
        with _preserved_state(self.module):
            state = get_rng_state()
            try:
                with no_grad():
                    expected = self.fn(*new_args, **new_kwargs)
            except Exception:  # the function rejects these values (e.g. a domain error): no evidence
                return None
            set_rng_state(state)
            results = entry.run_forward([t._data for t in inputs])[: entry.trace.n_results]
        wanted, _ = flatten(expected, _is_tensor)
        if len(wanted) != len(results):
            return "the traced graph returns a different structure for other input values"
        for want, got in zip(wanted, results):
            w = want._data
            if w.shape != got.shape or not np.allclose(w, got, rtol=1e-3, atol=1e-5, equal_nan=True):
                return (
                    "the traced graph depends on input values in a way the tracer could not see "
                    "(it disagreed with eager execution on other inputs)"
                )
        return None

    # --- dynamic shapes -----------------------------------------------------------------------
    def _dynamic_dims(self, args: tuple, kwargs: dict) -> list[tuple[int, int]]:
        """(leaf position, dim) of every dimension compiled symbolically."""
        leaves, _ = flatten((args, kwargs), _is_tensor)
        found = []
        for pos, t in enumerate(leaves):
            dims = t.__dict__.get("_dynamic_dims", frozenset({0} if self.dynamic and t.ndim else ()))
            found += [(pos, d) for d in sorted(dims)]
        return found

    def _generalize(self, entry: Entry, args: tuple, kwargs: dict, dims: list, needs_grad: bool) -> None:
        """Retrace at other sizes and merge the graphs into one symbolic graph (see ir.symbolic)."""
        from .ir.symbolic import generalize

        leaves, spec = flatten((args, kwargs), _is_tensor)
        base_sizes = sorted({leaves[p]._data.shape[d] for p, d in dims})
        symbols = ["B" if i == 0 else f"B{i}" for i in range(len(base_sizes))]
        symbol_of = {size: name for size, name in zip(base_sizes, symbols)}
        probes = [
            [s + (1 if j == i else 0) for j, s in enumerate(base_sizes)] for i in range(len(base_sizes))
        ]
        probes.append([s + 2 for s in base_sizes])
        entries = [entry]
        for sizes in probes:
            resize = dict(zip(base_sizes, sizes))
            new_leaves = [
                _resized(t, [(d, resize[t._data.shape[d]]) for p, d in dims if p == pos])
                for pos, t in enumerate(leaves)
            ]
            new_args, new_kwargs = unflatten(spec, new_leaves)
            with _preserved_state(self.module):
                tr = trace_call(
                    self.fn,
                    tuple(new_args),
                    dict(new_kwargs),
                    module=self.module,
                    name=entry.trace.graph.name,
                )
            if tr.graph_break is not None:
                self.log.append("dynamic shapes: a probe trace broke the graph; specialising per size")
                return
            probe = Entry(entry.key, tr)
            self._build(probe, needs_grad, PipelineReport())
            entries.append(probe)
        forward = generalize([e.forward for e in entries], symbols, base_sizes)
        backward = (
            generalize([e.backward for e in entries], symbols, base_sizes)
            if entry.backward is not None
            else None
        )
        same_layout = all(
            e.wrt == entry.wrt and e.n_saved == entry.n_saved and e.trace.mutated == entry.trace.mutated
            for e in entries
        )
        if forward is None or (entry.backward is not None and backward is None) or not same_layout:
            self.log.append("dynamic shapes: the program differs between sizes; specialising per size")
            return
        entry.forward, entry.backward = forward, backward
        entry.run_forward = compile_graph(forward)
        if backward is not None:
            entry.run_backward = compile_graph(backward)
        entry.dynamic = [(symbol_of[leaves[p]._data.shape[d]], p, d) for p, d in dims]
        self.dumper.write("dynamic", forward)
        self.log.append(f"dynamic shapes: one graph for every size of {', '.join(symbols)}")

    def _run(self, entry: Entry, inputs: list):
        """Run the compiled forward on the call's tensors then the module's state tensors."""
        tr = entry.trace
        arrays = [t._data for t in inputs]
        results = entry.run_forward(arrays)
        n_results = tr.n_results
        n_mutated = len(tr.mutated)
        outputs = results[:n_results]
        mutations = results[n_results : n_results + n_mutated]
        saved = results[n_results + n_mutated :]
        for pos, value in zip(tr.mutated, mutations):
            target = inputs[pos]
            np.copyto(target._data, value)
            target._bump_version()
        tensors = [Tensor._wrap(np.asarray(o)) for o in outputs]
        if entry.wrt and STATE.enabled:
            out_meta = [(o.shape, o.dtype) for o in outputs]
            node = CompiledBackward(entry, list(saved), inputs, out_meta)
            for i, t in enumerate(tensors):
                if t._data.dtype.kind == "f":
                    t._node, t._out_nr, t._rg = node, i, True
        return unflatten(tr.output_spec, tensors)

    # --- inspection ---------------------------------------------------------------------------
    def explain(self) -> str:
        """Graphs, guards, recompiles, graph breaks and time per stage, as text."""
        lines = [
            f"irgrad.compile: backend={self.backend}, dynamic={self.dynamic}, {len(self.cache)} cached graph(s)"
        ]
        lines.append("events:")
        lines += [f"  - {event}" for event in self.log] or ["  (not called yet)"]
        for n, entry in enumerate(self.cache.values()):
            lines.append(f"graph {n}:")
            key = entry.key
            shapes = ", ".join(
                _show(g[1]) + " " + g[2] if g[0] == "tensor" else repr(g[2]) for g in key.inputs
            )
            lines.append(
                f"  guards: inputs ({shapes}); grad_enabled={key.grad_enabled}; "
                f"training={all(key.training) if key.training else None}; {len(key.state)} parameters/buffers"
            )
            if entry.graph_break is not None:
                lines.append(f"  graph break: {entry.graph_break} (runs eagerly)")
                continue
            lines.append("  forward: " + _describe(entry.forward))
            if entry.backward is not None:
                lines.append(f"  backward: {_describe(entry.backward)}; {entry.n_saved} values saved for it")
            lines.append(
                "  time per stage: "
                + ", ".join(f"{name} {secs * 1e3:.1f} ms" for name, secs in entry.timings)
            )
            lines.append(_indent(str(entry.forward), "  "))
            if entry.backward is not None:
                lines.append(_indent(str(entry.backward), "  "))
        text = "\n".join(lines)
        print(text)
        return text


def _describe(graph: Graph) -> str:
    """Ops, kernels (fused groups) and planned memory of a final graph."""
    nodes = list(graph.op_nodes())
    kernels = sum(1 for n in nodes if n.op == "fused")
    plan = getattr(graph, "memory_plan", None)
    memory = f", peak {plan.peak_bytes / 1024:.1f} KiB planned" if plan is not None else ""
    return f"{len(nodes)} nodes ({kernels} fused kernels){memory}"


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _state_tensors(module) -> list:
    """The module's parameters and buffers in graph-input order (none for a plain function)."""
    return module_tree(module)[1] if module is not None else []


def _fits(entry: Entry, leaves: list) -> bool:
    """Whether a cached graph is valid for these inputs.

    A static graph needs the exact sizes it was traced with; a symbolic one needs the
    static dims to match and the dims sharing a symbol to agree.
    """
    inputs = entry.trace.input_tensors[: len(leaves)]
    dynamic = {(p, d) for _, p, d in entry.dynamic}
    for pos, (a, b) in enumerate(zip(inputs, leaves)):
        if a._data.ndim != b._data.ndim:
            return False
        if any(
            x != y for d, (x, y) in enumerate(zip(a._data.shape, b._data.shape)) if (pos, d) not in dynamic
        ):
            return False
    sizes: dict[str, int] = {}
    return all(
        sizes.setdefault(sym, leaves[p]._data.shape[d]) == leaves[p]._data.shape[d]
        for sym, p, d in entry.dynamic
    )


def _perturbed(t: Tensor, rng: np.random.Generator) -> Tensor:
    """A leaf like ``t`` with other values of the same kind (see Compiled._validate)."""
    data = t._data
    if data.dtype.kind == "f":
        scale = float(np.std(data)) if data.size > 1 else 1.0
        noisy = data + rng.standard_normal(data.shape).astype(data.dtype) * (0.5 * scale + 1e-3)
        out = Tensor._wrap(noisy.astype(data.dtype))
    else:
        flat = data.reshape(-1).copy()
        rng.shuffle(flat)
        out = Tensor._wrap(flat.reshape(data.shape))
    out._rg = t._rg
    return out


def _resized(t: Tensor, changes: list) -> Tensor:
    """A leaf like ``t`` with the given dims resized, its data tiled or cropped from t's."""
    data = t._data
    for d, size in changes:
        data = np.take(data, np.arange(size) % max(data.shape[d], 1), axis=d)
    out = Tensor._wrap(np.ascontiguousarray(data))
    out._rg = t._rg
    return out


class _preserved_state:
    """Restore a module's parameters, buffers and the global RNG after a probe trace."""

    def __init__(self, module) -> None:
        self.module = module

    def __enter__(self) -> None:
        from .random import get_rng_state

        self.rng = get_rng_state()
        tensors = _state_tensors(self.module)
        self.saved = [(t, t._data, t._data.copy(), t._version) for t in tensors]

    def __exit__(self, *exc) -> None:
        from .random import set_rng_state

        set_rng_state(self.rng)
        for t, array, values, version in self.saved:
            t._data = array
            np.copyto(array, values)
            if t._vc is not None:
                t._vc[0] = version


class CompiledModule:
    """``irgrad.compile(module)``: behaves like the module, runs its forward compiled.

    Attribute access, ``parameters()``, ``state_dict()``, ``train()``/``eval()``
    and the rest go to the original module, so parameters are the same objects.
    """

    def __init__(self, module, compiled: Compiled) -> None:
        object.__setattr__(self, "_orig_mod", module)
        object.__setattr__(self, "_compiled", compiled)

    def __call__(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    forward = __call__

    def explain(self) -> str:
        return self._compiled.explain()

    def __getattr__(self, name: str):
        return getattr(self._orig_mod, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self._orig_mod, name, value)

    def train(self, mode: bool = True) -> CompiledModule:
        self._orig_mod.train(mode)
        return self

    def eval(self) -> CompiledModule:
        return self.train(False)

    def __repr__(self) -> str:
        return f"CompiledModule({self._orig_mod!r})"


def compile(
    model=None,
    *,
    backend: str = "llvm",
    dynamic: bool = False,
    fullgraph: bool = False,
    dump: str | None = None,
    mode: str | None = None,
    options: dict | None = None,
):
    """Compile a module or function (also usable as ``@irgrad.compile`` or ``@irgrad.compile(...)``).

    ``options={"verify": True}`` (or ``IRGRAD_VERIFY=1``) runs the IR verifier after every
    pass.  ``mode`` and the other ``options`` are accepted for ``torch.compile``
    compatibility and ignored.

    Returns a callable with the original's behaviour: same outputs, same gradients,
    same parameter objects.  See the module docstring for guards, graph breaks,
    dynamic shapes and training.
    """
    if model is None:
        return functools.partial(
            compile,
            backend=backend,
            dynamic=dynamic,
            fullgraph=fullgraph,
            dump=dump,
            mode=mode,
            options=options,
        )
    from .nn import Module

    verify = bool((options or {}).get("verify", False))
    if isinstance(model, Module):
        return CompiledModule(model, Compiled(model, model, backend, dynamic, fullgraph, dump, verify))
    compiled = Compiled(model, None, backend, dynamic, fullgraph, dump, verify)

    @functools.wraps(model)
    def wrapper(*args, **kwargs):
        return compiled(*args, **kwargs)

    wrapper.explain = compiled.explain
    wrapper._compiled = compiled
    return wrapper


__all__ = ["compile", "mark_dynamic", "CompiledModule"]
