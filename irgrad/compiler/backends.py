"""Backends: what differs between ways of running an optimized graph.

A backend owns the lowering it needs, the partition's recompute policy (which op
kinds the backward graph may recompute instead of saving) and ``build``, which turns
an optimized graph (after ``default_passes``) into an executable: a function from
input arrays to output arrays.  ``irgrad.compile(..., backend=)`` only chooses one.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..ir import Graph, compile_graph
from ..ir.symbolic import has_sym, with_run_time_sizes
from ..native import jit
from ..native.jit import CodeMemoryFull
from ..ops import Kind
from ..ops.scalar import Unsupported
from ..passes import fuse
from ..passes.slice_gradients import assemble_slice_gradients
from ..passes.stack_steps import stack_steps
from ..passes.sum_of_products import merge_sums_of_products
from ..passes.value_identities import read_through_identities
from .warnings import CodegenWarning

Executable = Callable[[Sequence[np.ndarray]], list]


@dataclass
class BuildReport:
    """What a backend did for one graph, for ``explain()``: how many native kernels it
    compiled, and the groups it left to numpy with the reason."""

    kernels: int = 0
    fallbacks: list[str] = field(default_factory=list)
    llvm_seconds: float = 0.0  # spent in LLVM's optimizer and code generator
    cache_hits: int = 0  # kernels whose object code came from the disk cache
    segments: int = 0  # native functions the graph runs as (1: one native call per run)
    arena_bytes: int = 0  # the temporaries' memory, per thread
    whole_graph: str = ""  # why the graph runs node by node rather than as segments
    written_in_place: int = 0  # write-backs the program writes into the inputs themselves
    from_cache: bool = False  # the program's code came from the disk, without emission


class Backend:
    """The interface every backend implements."""

    name = "base"
    never_recomputed: frozenset = frozenset(Kind)

    def build(
        self, graph: Graph, dumper=None, write_backs: dict[int, int] | None = None
    ) -> tuple[Executable, BuildReport]:
        """``graph``'s executable.  ``write_backs`` maps an output's position to the input
        position the runtime copies it into (an update in place), which a backend may
        write there directly."""
        raise NotImplementedError


class NumpyBackend(Backend):
    """The reference: the IR interpreter runs each op's numpy kernel.

    Every op is a separate pass over memory, so recomputing an elementwise value in
    the backward costs as much as it saves: only views are recomputed.  Fusion and
    memory planning would buy it nothing, so it runs neither.
    """

    name = "numpy"
    never_recomputed = frozenset(Kind) - {Kind.MOVEMENT}

    def build(
        self, graph: Graph, dumper=None, write_backs: dict[int, int] | None = None
    ) -> tuple[Executable, BuildReport]:
        return compile_graph(graph), BuildReport()


class LlvmBackend(Backend):
    """Native code: fused groups of elementwise ops (with the reduction they feed, or the
    epilogue of a matmul or reduction) become single loop nests compiled by LLVM for the
    host CPU; every other node
    runs its numpy kernel (BLAS for matmuls) in the interpreter's schedule.

    Elementwise values are cheap to recompute inside a fused backward kernel and costly
    to save, so the partition may recompute them as well as views.
    """

    name = "llvm"
    never_recomputed = frozenset(Kind) - {Kind.MOVEMENT, Kind.ELEMENTWISE}

    def build(
        self, graph: Graph, dumper=None, write_backs: dict[int, int] | None = None
    ) -> tuple[Executable, BuildReport]:
        # deferred: the code generator takes ~75 ms to import, paid only by a first llvm build
        from ..codegen import Lowering
        from ..codegen.sizes import PerSizePrograms

        before = dataclasses.replace(jit.STATS)
        if _static(graph):
            program, fused = _whole_program(graph, dumper, write_backs or {})
            if program is not None:
                if dumper is not None and dumper.directory:
                    for k, segment in enumerate(program.segments):
                        _dump_kernel(dumper, f"{graph.name}-segment{k}", segment.llvm_ir)
                done = jit.STATS.since(before)
                report = BuildReport(
                    kernels=program.report.native_steps,
                    fallbacks=program.report.numpy_nodes,
                    llvm_seconds=done.seconds,
                    cache_hits=done.cache_hits,
                    segments=program.report.segments,
                    arena_bytes=program.report.arena_bytes,
                    written_in_place=len(program.plan.in_place),
                    from_cache=program.from_cache,
                )
                return program, report
            lowering = Lowering()
            run = compile_graph(fused, lower=lowering)
            why = "node by node: one native kernel per fused group"
            return run, BuildReport(
                kernels=len(lowering.kernels), fallbacks=lowering.fallbacks, whole_graph=why
            )

        def node_by_node() -> Executable:
            return compile_graph(_lowering_passes(graph), lower=Lowering())

        if dumper is not None:
            dumper.write(f"{graph.name}-fused", _lowering_passes(graph))

        def run_time_program(symbolic: Graph, env: dict) -> tuple:
            start = dataclasses.replace(jit.STATS)
            program, why = _run_time_program(symbolic, env, write_backs or {})
            if program is not None:  # for explain()
                done = jit.STATS.since(start)
                program.llvm_seconds, program.cache_hits = done.seconds, done.cache_hits
            if program is not None and dumper is not None and dumper.directory:
                number = len(run.run_time_programs)  # (the graph's programs so far)
                for k, segment in enumerate(program.segments):
                    _dump_kernel(dumper, f"{graph.name}-sizes{number}-segment{k}", segment.llvm_ir)
            return program, why

        run = PerSizePrograms(
            graph,
            lambda static: _whole_program(static, None, write_backs or {})[0],
            node_by_node,
            run_time_program,
        )
        why = "symbolic shapes: native functions taking the sizes at run time, compiled at the first call"
        return run, BuildReport(whole_graph=why)


def _lowering_passes(graph: Graph) -> Graph:
    """The LLVM backend's lowering passes: autodiff's identities read through,
    decompositions, slice gradients assembled,
    sums of products merged (and the per-step operands they concatenate stacked), shared
    transposed operands copied once and a pool's positions
    shared with its gradient (static graphs), fusion, reductions fused with the groups that
    feed them, and loops over one space joined into one with several results (static
    graphs)."""
    # deferred: the code generator takes ~75 ms to import, paid only by a first llvm build
    from ..codegen import fuse_reduction_prologues
    from ..codegen.decompose import decompose_unlowered
    from ..codegen.gemm import transpose_shared_operands_once
    from ..codegen.loop_fusion import fuse_loops
    from ..codegen.scalars import without_native_code
    from ..codegen.windows import share_pool_positions

    graph = read_through_identities(graph)
    if not _static(graph):
        return fuse_reduction_prologues(fuse(graph, apart=without_native_code))
    graph = stack_steps(merge_sums_of_products(assemble_slice_gradients(decompose_unlowered(graph))))
    graph = share_pool_positions(transpose_shared_operands_once(graph))
    return fuse_loops(fuse_reduction_prologues(fuse(graph, apart=without_native_code)))


def _whole_program(graph: Graph, dumper, write_backs: dict[int, int]) -> tuple:
    """(the static ``graph`` as a whole native program, or None where it cannot be, the
    lowered graph).  A failure of the code generator is a bug: it warns (a
    :class:`CodegenWarning`) and the graph runs another way, never the user's error."""
    from ..codegen import Program  # deferred: the code generator is heavy to import (see above)

    fused = _lowering_passes(graph)
    if dumper is not None:
        dumper.write(f"{graph.name}-fused", fused)
    try:
        return Program(fused, write_backs), fused
    except (Unsupported, CodeMemoryFull):
        return None, fused
    except Exception as error:
        warnings.warn(
            f"irgrad.compile: the llvm code generator failed on graph {graph.name} "
            f"({type(error).__name__}: {error}); it runs another way",
            CodegenWarning,
            stacklevel=3,
        )
        return None, fused


def _run_time_program(graph: Graph, env: dict[str, int], write_backs: dict[int, int]) -> tuple:
    """``(program, "")``: the symbolic ``graph`` as one native program taking its sizes at
    run time, built at the sizes ``env``; or ``(None, why it cannot be)``, and the graph
    is compiled per size instead (see :mod:`irgrad.codegen.sizes`)."""
    from ..codegen import Program  # deferred: the code generator is heavy to import (see above)

    hinted, assumptions = with_run_time_sizes(graph, env)
    try:
        return Program(_lowering_passes(hinted), write_backs, assumptions), ""
    except Exception as error:  # a size the code generator cannot take at run time
        return None, f"{type(error).__name__}: {error}"


def _static(graph: Graph) -> bool:
    """Whether every shape and attribute of ``graph`` (fused bodies included) is static."""
    for node in graph.nx.nodes.values():
        node = node["node"]
        if not node.type.is_static or has_sym(node.attrs):
            return False
        if node.body is not None and not _static(node.body):
            return False
    return True


def _dump_kernel(dumper, stage: str, text: str) -> None:
    """A kernel's LLVM IR as generated (``.ll``), after LLVM's optimizer (``.opt.ll``) and
    its assembly for this CPU (``.s``)."""
    optimized, assembly = jit.optimized_and_assembly(text)
    dumper.write(stage, text, ".ll")
    dumper.write(stage, optimized, ".opt.ll")
    dumper.write(stage, assembly, ".s")


BACKENDS = ("llvm", "numpy", "eager")


def get_backend(name: str) -> Backend | None:
    """The backend called ``name`` (None for ``eager``, which runs the function itself)."""
    if name not in BACKENDS:
        raise ValueError(f"irgrad.compile: unknown backend {name!r}; choose one of {BACKENDS}")
    if name == "eager":
        return None
    return LlvmBackend() if name == "llvm" else NumpyBackend()
