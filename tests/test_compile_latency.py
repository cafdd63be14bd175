"""What keeps compiling fast, and must not change what a compiled call computes:

* a recompile whose trace equals an earlier one reuses that build (a training step
  compiles twice: its guard sees ``.grad`` None, then set);
* the garbage collector is paused while compiling, and left as the user had it;
* elementwise loops carry LLVM's "do not unroll" loop metadata;
* the tiled matrix product is compiled once in a module of its own, which programs
  call by symbol.
"""

import gc

import numpy as np
import pytest
from graph_calls import graph_call
from optim_cases import fixed_batch_step

import irgrad
from irgrad.codegen import Program
from irgrad.native.loops import loop_hints


def _training_step():
    # plain SGD: a momentum buffer's first step traces differently from the later ones
    model, _, step = fixed_batch_step(lambda p: irgrad.optim.SGD(p, lr=0.1), detach=False)
    return model, step


@pytest.mark.parametrize("backend", ["llvm", "numpy"])
def test_a_recompile_with_the_same_trace_reuses_the_build(backend):
    model, step = _training_step()
    eager_model, eager_step = _training_step()
    compiled = irgrad.compile(step, backend=backend)
    for _ in range(4):
        assert compiled().item() == pytest.approx(eager_step().item(), rel=1e-5)
    entries = compiled._compiled.entries
    assert len(entries) == 2  # .grad None at the first call, a tensor after
    assert entries[0].built is entries[1].built
    assert any("build is reused" in line for line in compiled._compiled.log)
    for p, q in zip(model.parameters(), eager_model.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_traces_that_differ_get_their_own_builds():
    # the same code tracing to different constants (a Python float the guard watches)
    scale = {"value": 2.0}

    def f(x):
        return x * scale["value"] + 1.0

    compiled = irgrad.compile(f)
    x = irgrad.randn(5)
    for value in (2.0, 3.0, 2.0, 3.0):
        scale["value"] = value
        out = graph_call(compiled, x)
        np.testing.assert_allclose(out.numpy(), x.numpy() * value + 1.0, rtol=1e-6)
    built = {id(e.built) for e in compiled._compiled.entries}
    assert len(built) == len(compiled._compiled.entries) == 2


@pytest.mark.parametrize("enabled", [True, False])
def test_compiling_leaves_the_collector_as_it_was(enabled):
    model, step = _training_step()
    compiled = irgrad.compile(step)
    (gc.enable if enabled else gc.disable)()
    try:
        compiled()
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


def _program_text(compiled) -> str:
    programs = [
        e.built.run_forward for e in compiled._compiled.entries if isinstance(e.built.run_forward, Program)
    ]
    assert programs
    return "\n".join(segment.llvm_ir for p in programs for segment in p.segments)


def test_elementwise_loops_are_not_unrolled_and_products_are_called_by_symbol():
    compiled = irgrad.compile(lambda a, b: (a @ b).tanh() * 2.0 + a.sum())
    a, b = irgrad.randn(24, 40), irgrad.randn(40, 24)
    out = graph_call(compiled, a, b)
    expected = np.tanh(a.numpy().astype(np.float64) @ b.numpy()) * 2 + a.numpy().sum()
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-4)
    text = _program_text(compiled)
    assert '!"llvm.loop.unroll.disable"' in text
    assert 'declare void @"irgrad.gemm.' in text
    assert 'define internal void @"irgrad.gemm.' not in text


def test_loop_metadata_names_itself():
    import llvmlite.ir as ir

    module = ir.Module("loops")
    first, second = loop_hints(module), loop_hints(module, lanes=4)
    assert first.operands[0] is first and second.operands[0] is second
    assert first != second and len({first, second}) == 2
    assert "llvm.loop.unroll.disable" in str(first.operands[1]) and len(second.operands) == 3
    assert "llvm.loop.vectorize.width" in str(second.operands[2]) and "i32 4" in str(second.operands[2])


# The tiled product's forms (tiled_gemm.GemmShape.form), each from a product's shapes:
# B row-major; B transposed with few rows of A; B transposed with many.
_PRODUCTS = {
    "broadcast": (lambda a, b: a @ b, (16, 24), (24, 40)),
    "dot": (lambda a, b: a @ b.T, (16, 24), (40, 24)),
    "packed": (lambda a, b: a @ b.T, (64, 24), (40, 24)),
}


def _lowered_program_graph(form: str = "broadcast", backend: str = "llvm"):
    """A lowered graph (an elementwise group, a product of ``form``, a reduction) and its
    inputs (traced and built by ``backend``)."""
    from irgrad.compiler.backends import _lowering_passes

    product, a_shape, b_shape = _PRODUCTS[form]
    compiled = irgrad.compile(lambda a, b: (product(a, b).tanh() * 2.0).sum(dim=1), backend=backend)
    a, b = irgrad.randn(*a_shape), irgrad.randn(*b_shape)
    graph_call(compiled, a, b)
    graph = compiled._compiled.entries[-1].built.forward
    return _lowering_passes(graph), [a.numpy(), b.numpy()]


def _key(graph, write_backs=None) -> str:
    """The disk cache key of ``graph``'s program (see Program: its text without sources)."""
    from irgrad.codegen import program_cache
    from irgrad.ir.printer import print_graph

    return program_cache.key(print_graph(graph, sources=False), write_backs or {})


@pytest.mark.parametrize("form", sorted(_PRODUCTS))
def test_a_program_built_again_comes_from_the_disk_without_emission(tmp_path, monkeypatch, form):
    graph, inputs = _lowered_program_graph(form)
    monkeypatch.setenv("IRGRAD_CACHE_DIR", str(tmp_path))
    first = Program(graph)
    assert not first.from_cache
    assert f"irgrad.gemm.{form}." in first.segments[0].llvm_ir
    again = Program(graph)
    assert again.from_cache
    assert [s.llvm_ir for s in again.segments] == [s.llvm_ir for s in first.segments]
    for got, want in zip(again(inputs), first(inputs)):
        np.testing.assert_array_equal(got, want)


def _in_new_process(child: str, cache, *args: str) -> str:
    """What the Python source ``child`` prints, run with ``args`` in a new process whose
    disk cache is ``cache`` (it must exit cleanly)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "IRGRAD_CACHE_DIR": str(cache)}
    command = [sys.executable, "-c", child, *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("form", sorted(_PRODUCTS))
def test_a_new_process_takes_the_program_from_the_disk(tmp_path, form):
    """Another process finds the entry and links the product kernel it names (a packed
    product's symbol was not recognised, so its programs were emitted again)."""
    from pathlib import Path

    child = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from test_compile_latency import Program, _lowered_program_graph\n"
        "print(Program(_lowered_program_graph(sys.argv[2], 'numpy')[0]).from_cache)\n"
    )
    runs = [_in_new_process(child, tmp_path, str(Path(__file__).parent), form).split()[-1] for _ in range(2)]
    assert runs == ["False", "True"]


def test_a_corrupted_or_stale_program_entry_is_rebuilt(tmp_path, monkeypatch):
    from irgrad.codegen import program_cache

    graph, inputs = _lowered_program_graph()
    monkeypatch.setenv("IRGRAD_CACHE_DIR", str(tmp_path))
    want = Program(graph)(inputs)
    (entry,) = (tmp_path / "programs").iterdir()
    entry.write_bytes(entry.read_bytes()[:-10])  # truncated: fails its checksum
    rebuilt = Program(graph)
    assert not rebuilt.from_cache
    key = _key(graph)
    (stale,) = program_cache.load(key)
    stale["segments"][0]["slot_buffers"] = stale["segments"][0]["slot_buffers"][::-1] + [99]
    program_cache.store(key, stale)  # an entry the plan disagrees with
    mismatched = Program(graph)
    assert not mismatched.from_cache
    for got, expected in zip(mismatched(inputs), want):
        np.testing.assert_array_equal(got, expected)


def test_the_program_cache_key_follows_the_graph_and_the_write_backs():

    graph, _ = _lowered_program_graph()
    other = graph.copy()
    other.set_outputs(list(reversed(other.outputs)) + other.outputs)
    assert _key(graph) == _key(graph.copy())
    assert _key(graph) != _key(other)
    assert _key(graph) != _key(graph, {0: 0})
    moved = graph.copy()
    for nid in moved.order():
        moved.node(nid).source = "elsewhere.py:1"
    assert _key(moved) == _key(graph)  # (a line moved in the script: the same code)


def test_a_cached_module_that_does_not_build_is_emitted_afresh(tmp_path, monkeypatch):
    from irgrad.codegen import program_cache

    graph, inputs = _lowered_program_graph()
    monkeypatch.setenv("IRGRAD_CACHE_DIR", str(tmp_path))
    want = Program(graph)(inputs)
    key = _key(graph)
    (variant,) = program_cache.load(key)
    variant["segments"][0]["llvm_ir"] = variant["segments"][0]["llvm_ir"].replace("ret ", "rett ", 1)
    program_cache.store(key, variant)
    rebuilt = Program(graph)
    assert not rebuilt.from_cache
    for got, expected in zip(rebuilt(inputs), want):
        np.testing.assert_array_equal(got, expected)


def test_a_product_kernel_is_loaded_by_a_new_process_without_emitting_it(tmp_path):
    """The tiled product kernels are kept on disk by their name (form, dtype, registers)
    and irgrad's source: a later process loads one without emitting its IR (the packed
    form's emission took most of a warm process's 130 ms first call of W1's model)."""
    child = (
        "import sys, numpy as np, llvmlite.ir as ir\n"
        "from irgrad.codegen import tiled_gemm as t\n"
        "from irgrad.codegen.gemm_kernels import host_tiling\n"
        "if sys.argv[1] == 'forbid':\n"
        "    def refuse(*args): raise AssertionError('emitted')\n"
        "    t.define = refuse\n"
        "t.ensure_compiled('packed', ir.FloatType(), host_tiling(np.dtype(np.float32)))\n"
    )
    for mode in ("allow", "forbid"):
        _in_new_process(child, tmp_path, mode)


def test_a_kernel_kept_by_its_source_loads_only_when_what_it_calls_is_linkable():
    """LLVM aborts the process on a symbol it cannot resolve, so an entry whose code
    calls something not linked yet is a miss (emitted afresh, which links it)."""
    from irgrad.native import jit

    assert jit._linkable(b"\0object") == b"object"
    assert jit._linkable(b"irgrad_no_such_symbol\0object") is None
    assert jit._linkable(b"object without a list of symbols") is None
    assert jit.declared_symbols('declare void @"a.b"(i8*)\ndeclare float @llvm.exp.f32(float)\n') == ["a.b"]


def test_the_eager_loss_kernels_load_in_a_new_process_without_emission(tmp_path):
    """Eager cross-entropy's native kernels are kept by name too (14 ms of emission in a
    new process's first training call)."""
    child = (
        "import sys, irgrad, irgrad.nn.functional as F\n"
        "from irgrad.native import loss\n"
        "if sys.argv[1] == 'forbid':\n"
        "    def refuse(*args): raise AssertionError('emitted')\n"
        "    loss._BUILDERS = {k: (refuse, *rest) for k, (_, *rest) in loss._BUILDERS.items()}\n"
        "x = irgrad.randn(8, 5, requires_grad=True)\n"
        "F.cross_entropy(x, irgrad.randint(0, 5, (8,))).backward()\n"
    )
    for mode in ("allow", "forbid"):
        _in_new_process(child, tmp_path, mode)


def test_the_source_fingerprint_follows_every_source_file_and_nothing_else(tmp_path):
    """Cached programs are keyed by irgrad's sources: a changed file in any subpackage
    changes the key; bytecode caches and other files do not."""
    import os

    from irgrad.native.jit import tree_fingerprint

    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "__pycache__").mkdir()
    source = tmp_path / "pkg" / "sub" / "module.py"
    source.write_text("x = 1\n")
    (tmp_path / "pkg" / "top.py").write_text("y = 2\n")
    before = tree_fingerprint(str(tmp_path), "salt")
    (tmp_path / "pkg" / "__pycache__" / "fake.py").write_text("z = 3\n")
    (tmp_path / "pkg" / "notes.txt").write_text("not code\n")
    assert tree_fingerprint(str(tmp_path), "salt") == before
    assert tree_fingerprint(str(tmp_path), "other salt") != before
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert tree_fingerprint(str(tmp_path), "salt") != before


def test_a_program_entry_with_a_variant_that_is_not_an_object_is_read_without_it(tmp_path, monkeypatch):
    """An entry whose variants list holds something else than objects (edited, checksum
    and all) is read without those items: the program is emitted and kept again (store
    raised on it, and every later process built no program)."""
    from irgrad.codegen import program_cache
    from irgrad.native import jit

    graph, inputs = _lowered_program_graph()
    monkeypatch.setenv("IRGRAD_CACHE_DIR", str(tmp_path))
    want = Program(graph)(inputs)
    key = _key(graph)
    jit.write_checked(program_cache._path(key), b'{"version": 2, "variants": [7, "x", null]}')
    assert program_cache.load(key) == []
    rebuilt = Program(graph)
    assert not rebuilt.from_cache and len(program_cache.load(key)) == 1
    for got, expected in zip(rebuilt(inputs), want):
        np.testing.assert_array_equal(got, expected)
