"""IRGRAD_PERF_MAP: the JIT names its functions for perf in /tmp/perf-<pid>.map."""

import ctypes
import uuid

import llvmlite.ir as ir

from irgrad.native import jit, perf_map


def _module(name: str) -> ir.Module:
    """``name(x) = helper(x) + 1`` with ``helper(x) = 2 x`` kept out of line: a module with an
    internal function the engine gives no address for."""
    module = jit.new_module(name)
    i64 = ir.IntType(64)
    helper = ir.Function(module, ir.FunctionType(i64, [i64]), f"{name}.helper")
    helper.linkage = "internal"
    helper.attributes.add("noinline")
    b = ir.IRBuilder(helper.append_basic_block("entry"))
    b.ret(b.mul(helper.args[0], ir.Constant(i64, 2)))
    fn = ir.Function(module, ir.FunctionType(i64, [i64]), name)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.ret(b.add(b.call(helper, [fn.args[0]]), ir.Constant(i64, 1)))
    return module


def test_the_map_names_every_function_of_a_loaded_object_where_it_lies(tmp_path, monkeypatch):
    target = tmp_path / "perf.map"
    monkeypatch.setattr(perf_map, "ENABLED", True)
    monkeypatch.setattr(perf_map, "path", lambda pid=None: str(target))
    name = f"perf_map_{uuid.uuid4().hex}"  # new text: compiled, not an earlier process's cache entry
    fn = jit.compile_function(_module(name), name, ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64))
    assert fn(20) == 41
    lines = {
        line.split()[2]: (int(line.split()[0], 16), int(line.split()[1], 16))
        for line in target.read_text().splitlines()
    }
    assert {name, f"{name}.helper"} <= set(lines)
    start, size = lines[name]
    assert start <= ctypes.cast(fn, ctypes.c_void_p).value < start + size
    helper_start, helper_size = lines[f"{name}.helper"]
    assert helper_size > 0 and (helper_start + helper_size <= start or start + size <= helper_start)


def test_nothing_but_an_elf_object_is_read():
    assert perf_map.functions(b"") == []
    assert perf_map.functions(b"\x7fELF" + bytes(100)) == []  # not 64-bit little-endian


def test_off_unless_asked():
    assert not any(perf_map.asked(v) for v in (None, "", "0", "off", "no", "false"))
    assert perf_map.asked("1") and perf_map.asked("yes")
