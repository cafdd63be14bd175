"""The native eager kernels (irgrad.native) against the numpy paths they replace.

Each op kernel runs once with native kernels and once with them off (as with
``IRGRAD_NATIVE=0``), on random geometry, dtypes, layouts and special values; the results must agree (bit
for bit where the arithmetic is the same, to rounding where sums are reordered).  The
first run must have been answered by the native kernel: one that declines (returns None
for numpy to do the work) would make the comparison numpy against numpy.
"""

from __future__ import annotations

import numpy as np
import pytest

from irgrad.native import elementwise as native_elementwise
from irgrad.native import jit
from irgrad.native import loss as native_loss
from irgrad.native import window as native_window
from irgrad.ops import OPS
from irgrad.ops.conv import out_size

# The native kernel each op's numpy kernel hands its work to (None back: numpy does it).
NATIVE_KERNELS = {
    "im2col": (native_window, "im2col"),
    "col2im": (native_window, "col2im"),
    "max_pool": (native_window, "max_pool"),
    "max_pool_argmax": (native_window, "max_pool"),
    "max_pool_scatter": (native_window, "max_pool_scatter"),
    "where": (native_elementwise, "select_zero"),
    "relu_grad": (native_elementwise, "relu_grad"),
    "log_softmax": (native_loss, "log_softmax"),
    "nll_loss": (native_loss, "nll_loss"),
    "nll_loss_grad": (native_loss, "nll_loss_grad"),
}


def both_paths(monkeypatch, op: str, *args, **attrs):
    """(native result, numpy result) of op ``op``'s kernel on ``args``; the native kernel
    must have computed the first (not declined it to numpy)."""
    assert jit.enabled()
    module, name = NATIVE_KERNELS[op]
    kernel, answered = getattr(module, name), []

    def recorded(*arguments, **options):
        result = kernel(*arguments, **options)
        answered.append(result is not None)
        return result

    with monkeypatch.context() as patch:
        patch.setattr(module, name, recorded)
        native = OPS[op].eval(*args, **attrs)
    assert answered and all(answered), f"{op}: the native kernel left the work to numpy"
    with monkeypatch.context() as patch:
        patch.setattr(jit, "_ENABLED", False)
        reference = OPS[op].eval(*args, **attrs)
    return native, reference


def random_window(gen):
    """(image shape, window attrs) with every window inside the image."""
    while True:
        kernel = tuple(int(v) for v in gen.integers(1, 4, 2))
        stride = tuple(int(v) for v in gen.integers(1, 4, 2))
        dilation = tuple(int(v) for v in gen.integers(1, 3, 2))
        shape = (int(gen.integers(1, 3)), int(gen.integers(1, 4)), *(int(v) for v in gen.integers(2, 10, 2)))
        if all(out_size(s, k, st, d) > 0 for s, k, st, d in zip(shape[2:], kernel, stride, dilation)):
            return shape, {"kernel": kernel, "stride": stride, "dilation": dilation}


def pooled_shape(shape, w):
    return shape[:2] + tuple(
        out_size(s, k, st, d) for s, k, st, d in zip(shape[2:], w["kernel"], w["stride"], w["dilation"])
    )


def image(gen, shape, dtype, special: bool):
    """Small integers (so windows tie) with, if ``special``, some NaN, inf and -0.0."""
    x = gen.integers(-3, 3, shape).astype(dtype)
    if special:
        x[gen.random(shape) < 0.15] = np.nan
        x[gen.random(shape) < 0.1] = np.inf
        x[gen.random(shape) < 0.1] = -np.inf
        x[gen.random(shape) < 0.1] = -0.0
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(2))
def test_window_kernels_match_numpy(monkeypatch, dtype, seed):
    """(Each new window geometry compiles its kernels, so the trials are few.)"""
    gen = np.random.default_rng(seed)
    for trial in range(12):
        shape, w = random_window(gen)
        x = image(gen, shape, dtype, special=trial % 3 == 0)
        if trial % 4 == 1:  # a non-contiguous input is copied, not misread
            x = np.asfortranarray(x)

        cols, cols_ref = both_paths(monkeypatch, "im2col", x, **w, layout="cols")
        np.testing.assert_array_equal(cols, cols_ref)
        g = gen.standard_normal(cols.shape).astype(dtype)
        image_, image_ref = both_paths(monkeypatch, "col2im", g, shape=shape, **w, layout="cols")
        np.testing.assert_allclose(image_, image_ref, rtol=1e-5, atol=1e-5)

        out, out_ref = both_paths(monkeypatch, "max_pool", x, **w)
        np.testing.assert_array_equal(out, out_ref)
        where, where_ref = both_paths(monkeypatch, "max_pool_argmax", x, out, **w)
        np.testing.assert_array_equal(where, where_ref)
        assert where.dtype == where_ref.dtype

        gp = gen.standard_normal(out.shape).astype(dtype)
        if trial % 5 == 0:
            gp[gen.random(gp.shape) < 0.3] = np.inf
        scattered, scattered_ref = both_paths(monkeypatch, "max_pool_scatter", gp, where, shape=shape, **w)
        np.testing.assert_allclose(scattered, scattered_ref, rtol=1e-6, atol=1e-6)


def test_max_pool_kernel_picks_pytorchs_positions():
    """First maximum in raster order; the last NaN when a window holds NaNs."""
    x = np.array([[[[3.0, 3.0, 1.0, np.nan], [1.0, 3.0, np.nan, 2.0]]]], dtype=np.float32)
    out, positions = native_window.max_pool(x, (1, 2), (2, 2), (2, 2), (1, 1), np.int8)
    np.testing.assert_array_equal(out, [[[[3.0, np.nan]]]])
    np.testing.assert_array_equal(positions, [[[[0, 2]]]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", [7, 19, 40])
def test_max_pool_kernel_rows_wider_than_a_vector(monkeypatch, dtype, width):
    """Output rows of 3, 9 and 20 windows: the scalar loop alone, and the vector loop
    with its scalar remainder, both with ties, NaN, inf and -0.0 (random_window's small
    images mostly reach the scalar loop only)."""
    gen = np.random.default_rng(width)
    x = image(gen, (2, 3, 6, width), dtype, special=True)
    w = {"kernel": (2, 2), "stride": (2, 2), "dilation": (1, 1)}
    out, out_ref = both_paths(monkeypatch, "max_pool", x, **w)
    np.testing.assert_array_equal(out, out_ref)
    where, where_ref = both_paths(monkeypatch, "max_pool_argmax", x, out, **w)
    np.testing.assert_array_equal(where, where_ref)


def test_scatter_skips_positions_outside_the_window():
    """A position no window has is ignored, never written out of bounds."""
    g = np.ones((1, 1, 2, 2), dtype=np.float32)
    positions = np.array([[[[0, 127], [-5, 3]]]], dtype=np.int8)
    image_ = native_window.max_pool_scatter(g, positions, (1, 1, 4, 4), (2, 2), (2, 2), (1, 1))
    expected = np.zeros((1, 1, 4, 4), dtype=np.float32)
    expected[0, 0, 0, 0] = expected[0, 0, 3, 3] = 1.0
    np.testing.assert_array_equal(image_, expected)


def test_unsupported_dtypes_fall_back():
    x = np.zeros((1, 1, 4, 4), dtype=np.float16)
    assert native_window.im2col(x, (3, 3), (2, 2), (1, 1), (1, 1)) is None
    assert native_window.max_pool(x, (2, 2), (2, 2), (2, 2), (1, 1), np.int8) is None
    out = OPS["max_pool"].eval(x, kernel=(2, 2), stride=(2, 2), dilation=(1, 1))
    assert out.dtype == np.float16 and out.shape == (1, 1, 2, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 5, 2)])
def test_select_zero_matches_numpy_bit_for_bit(monkeypatch, dtype, shape):
    gen = np.random.default_rng(len(shape))
    a = gen.standard_normal(shape).astype(dtype)
    if a.size >= 5:
        a.reshape(-1)[:5] = [np.nan, np.inf, -np.inf, -0.0, 0.0]
    cond = gen.random(shape) < 0.5
    for args in [(cond, a, 0.0), (cond, 0.0, a)]:
        got, ref = both_paths(monkeypatch, "where", *args)
        assert got.shape == ref.shape == shape and got.dtype == ref.dtype
        np.testing.assert_array_equal(got.view(f"u{a.itemsize}"), ref.view(f"u{a.itemsize}"))


def _adder(name: str):
    """A tiny kernel module: double name(double a, double b) = a + b."""
    import llvmlite.ir as ir

    module = jit.new_module(name)
    f64 = ir.DoubleType()
    fn = ir.Function(module, ir.FunctionType(f64, [f64, f64]), name)
    builder = ir.IRBuilder(fn.append_basic_block())
    builder.ret(builder.fadd(*fn.args))
    return module


def test_compiled_kernels_are_cached_on_disk(monkeypatch, tmp_path):
    import ctypes

    monkeypatch.setenv("IRGRAD_CACHE_DIR", str(tmp_path))
    signature = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double, ctypes.c_double)
    assert jit.compile_function(_adder("cache_probe_a"), "cache_probe_a", signature)(1.5, 2.0) == 3.5
    (cached,) = list((tmp_path / "native").iterdir())

    def no_compiling(*args):
        raise AssertionError("compiled although the object code was cached")

    # The same module again (as a new process would build it) loads from the file.
    monkeypatch.setattr(jit, "_object_code", no_compiling)
    assert jit.compile_function(_adder("cache_probe_a"), "cache_probe_a", signature)(2.5, 2.0) == 4.5
    # A truncated file fails its checksum: it would be compiled again, not loaded.
    cached.write_bytes(cached.read_bytes()[:-7])
    assert jit.read_checked(cached) is None


def test_unwritable_cache_only_means_no_caching(monkeypatch, tmp_path):
    import ctypes

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("IRGRAD_CACHE_DIR", str(blocker))
    signature = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double, ctypes.c_double)
    assert jit.compile_function(_adder("cache_probe_b"), "cache_probe_b", signature)(2.0, 2.0) == 4.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (9,), (3, 5, 2)])
def test_relu_grad_matches_numpy_bit_for_bit(monkeypatch, dtype, shape):
    gen = np.random.default_rng(len(shape) + 10)
    g = gen.standard_normal(shape).astype(dtype)
    y = np.maximum(gen.standard_normal(shape), 0).astype(dtype)
    if g.size >= 5:
        y.reshape(-1)[:5] = [np.nan, np.inf, -np.inf, -0.0, 0.0]
        g.reshape(-1)[5:9] = [np.nan, np.inf, -np.inf, -0.0][: g.size - 5]
    got, ref = both_paths(monkeypatch, "relu_grad", g, y)
    assert got.shape == ref.shape == shape and got.dtype == ref.dtype == g.dtype
    np.testing.assert_array_equal(got.view(f"u{g.itemsize}"), ref.view(f"u{g.itemsize}"))


def exp_kernel(dtype, helper=None):
    """``out[i] = helper(z[i])`` compiled for ``dtype``, ``helper`` one of native.exp's
    (``exp_nonpositive`` by default): the helper on its own."""
    import ctypes

    import llvmlite.ir as ir

    from irgrad.native.exp import exp_nonpositive
    from irgrad.native.loops import FLOATS, I64, for_range

    helper = helper or exp_nonpositive
    ft = FLOATS[np.dtype(dtype)]
    module = jit.new_module(f"exp_probe_{helper.__name__}_{ft}")
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ir.PointerType(ft)] * 2 + [I64]), module.name)
    z, out, n = fn.args
    b = ir.IRBuilder(fn.append_basic_block())
    with for_range(b, n) as i:
        b.store(helper(b, b.load(b.gep(z, [i]))), b.gep(out, [i]))
    b.ret_void()
    run = jit.compile_function(
        module, module.name, ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
    )

    def apply(values):
        values = np.ascontiguousarray(values, dtype=dtype)
        result = np.empty_like(values)
        run(jit.address(values), jit.address(result), values.size)
        return result

    return apply


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_nonpositive_is_within_an_ulp(dtype):
    exp = exp_kernel(dtype)
    tiny = np.finfo(dtype).tiny
    gen = np.random.default_rng(3)
    z = np.concatenate(
        [-gen.exponential(20.0, 20000), -gen.random(20000) * 1e-3, np.linspace(np.log(tiny), 0, 5001)]
    )
    z = z.astype(dtype)
    exact = np.exp(z.astype(np.longdouble))
    got = exp(z).astype(np.longdouble)
    normal = exact >= tiny
    ulps = np.abs(got - exact)[normal] / np.spacing(exact[normal].astype(dtype)).astype(np.longdouble)
    assert ulps.max() <= 1.5, f"{ulps.max()} ulp"
    # Below the normal range the result flushes to zero (exact where callers use it).
    assert np.all((got[~normal] == 0) | (got[~normal] == exact[~normal].astype(dtype)))
    special = exp(np.array([0.0, -0.0, -np.inf, np.nan, -1e30], dtype=dtype))
    np.testing.assert_array_equal(special[:3], [1.0, 1.0, 0.0])
    assert np.isnan(special[3]) and special[4] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_scales_by_vscalef_and_by_two_halves_to_the_same_bits(monkeypatch, dtype):
    # exp's last step, p * 2**n, is one llvm.ldexp (vscalef) on AVX-512 hosts and two
    # multiplications elsewhere; both round once, also into the subnormal range and to inf.
    from irgrad.native import exp as native_exp

    info = np.finfo(dtype)
    low, high = np.log(info.smallest_subnormal), np.log(info.max)
    gen = np.random.default_rng(5)
    z = np.concatenate(
        [
            gen.uniform(low - 5, high + 5, 50000),
            gen.uniform(low, np.log(info.tiny), 50000),  # subnormal results
            np.linspace(high - 0.01, high + 0.01, 2001),  # the overflow threshold
            gen.standard_normal(10000) * 30,
            [0.0, -0.0, np.inf, -np.inf, np.nan, info.max, -info.max, 1e-40],
        ]
    ).astype(dtype)
    results = {}
    for vscalef in (True, False):
        monkeypatch.setattr(native_exp, "has_avx512", lambda vscalef=vscalef: vscalef)
        results[vscalef] = exp_kernel(dtype, native_exp.exp)(z)
    np.testing.assert_array_equal(results[True].view(f"u{z.itemsize}"), results[False].view(f"u{z.itemsize}"))
    with np.errstate(over="ignore"):
        exact = np.exp(z.astype(np.longdouble))
        rounded = exact.astype(dtype)
    finite = np.isfinite(rounded) & (rounded != 0)
    ulps = np.abs(results[True][finite] - exact[finite]) / np.spacing(rounded[finite]).astype(np.longdouble)
    assert ulps.max() <= 1, f"{ulps.max()} ulp"
    special = ~finite & ~np.isnan(z)
    np.testing.assert_array_equal(results[True][special], rounded[special])
    assert np.isnan(results[True][np.isnan(z)]).all()


def logits(gen, shape, dtype, special: bool):
    """Random logits over a wide range; with ``special``, rows of -inf, rows holding
    +inf or NaN, and huge negative entries."""
    x = (gen.standard_normal(shape) * gen.choice([0.1, 5.0, 300.0])).astype(dtype)
    if special and x.shape[0] >= 4:
        x[0] = -np.inf
        x[1].flat[0] = np.inf
        x[2].flat[-1] = np.nan
        x[3].flat[::2] = -1e30
    return x


def assert_close_to_rounding(got, ref):
    """Equal where numpy's result is not finite; within a few ulps of the row's scale elsewhere."""
    assert got.shape == ref.shape and got.dtype == ref.dtype
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    finite = np.isfinite(ref)
    np.testing.assert_array_equal(got[~finite & ~np.isnan(ref)], ref[~finite & ~np.isnan(ref)])
    if finite.any():
        scale = np.abs(ref[finite]).max() + 1
        np.testing.assert_allclose(
            got[finite], ref[finite], rtol=0, atol=16 * np.finfo(ref.dtype).eps * scale
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(6))
def test_log_softmax_kernel_matches_numpy(monkeypatch, dtype, seed):
    gen = np.random.default_rng(seed)
    rows, n = int(gen.integers(1, 70)), int(gen.integers(1, 300))
    for shape, dim in [((rows, n), 1), ((rows, n), -1), ((2, rows, n), 2), ((rows, n, 1, 1), 1), ((n,), 0)]:
        x = logits(gen, shape, dtype, special=seed % 2 == 1)
        with np.errstate(all="ignore"):
            got, ref = both_paths(monkeypatch, "log_softmax", x, dim=dim)
        assert_close_to_rounding(got, ref)
    # A dim with longer dims after it (columns are strided) takes the numpy path.
    assert native_loss.log_softmax(np.zeros((3, 4), dtype), 0) is None
    transposed = logits(gen, (n, rows), dtype, special=False).T
    got, ref = both_paths(monkeypatch, "log_softmax", transposed, dim=1)
    assert_close_to_rounding(got, ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_nll_kernels_match_numpy(monkeypatch, dtype, reduction, ignore_index):
    gen = np.random.default_rng(len(reduction) + abs(ignore_index))
    rows, n = 37, 5
    logp = np.log(gen.random((rows, n))).astype(dtype)
    logp[4, :] = [np.nan, -np.inf, -0.0, 0.0, -1e30]
    target = gen.integers(0, n, rows)
    target[:8] = [0, 1, 2, 3, 4, ignore_index, ignore_index, 4]
    g = gen.standard_normal(rows).astype(dtype) if reduction == "none" else np.array(0.7, dtype)
    attrs = {"ignore_index": ignore_index, "reduction": reduction}
    got, ref = both_paths(monkeypatch, "nll_loss", logp, target, **attrs)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    np.testing.assert_allclose(got, ref, rtol=8 * np.finfo(dtype).eps)
    got, ref = both_paths(monkeypatch, "nll_loss_grad", g, target, shape=(rows, n), **attrs)
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(got.view(f"u{got.itemsize}"), ref.view(f"u{got.itemsize}"))


def test_nll_kernels_with_every_target_ignored():
    logp = np.zeros((3, 4), np.float32)
    target = np.full(3, -100)
    assert np.isnan(native_loss.nll_loss(logp, target, -100, "mean"))
    assert native_loss.nll_loss(logp, target, -100, "sum") == 0
    grad = native_loss.nll_loss_grad(np.array(1.0, np.float32), target, (3, 4), -100, "mean")
    np.testing.assert_array_equal(grad, np.zeros((3, 4), np.float32))


@pytest.mark.parametrize("bad", [4, -1, 1 << 40])
def test_nll_kernels_reject_targets_out_of_range_before_reading(bad):
    logp = np.zeros((3, 4), np.float64)
    target = np.array([1, bad, 2])
    with pytest.raises(IndexError, match=f"Target {bad} is out of bounds"):
        native_loss.nll_loss(logp, target, -100, "none")
    with pytest.raises(IndexError, match=f"Target {bad} is out of bounds"):
        native_loss.nll_loss_grad(np.ones(3), target, (3, 4), -100, "none")


def test_kernels_accept_read_only_and_empty_arrays():
    x = np.log(np.full((2, 3), 1 / 3, np.float32))
    x.flags.writeable = False
    np.testing.assert_allclose(native_loss.log_softmax(x, 1), x, atol=1e-6)
    assert native_loss.log_softmax(np.zeros((0, 3), np.float32), 1) is None
    assert jit.address(np.zeros(0)) != 0 or np.zeros(0).ctypes.data == 0


def test_a_module_calling_an_unknown_function_raises_instead_of_aborting(tmp_path, monkeypatch):
    """LLVM aborts the process on an unresolved symbol: jit.link refuses the module first."""
    import ctypes

    monkeypatch.setenv("IRGRAD_CACHE_DIR", str(tmp_path))
    text = (
        "declare void @irgrad_no_such_symbol()\n"
        "define void @calls_nothing_known() {\n"
        "  call void @irgrad_no_such_symbol()\n"
        "  ret void\n"
        "}\n"
    )
    with pytest.raises(RuntimeError, match="irgrad_no_such_symbol"):
        jit.compile_function(text, "calls_nothing_known", ctypes.CFUNCTYPE(None))
