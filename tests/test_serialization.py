"""irgrad.save / irgrad.load: round trips, sharing, atomic saves, and hostile or broken files."""

import collections
import io
import json
import math
import os
import pathlib
import pickle
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import irgrad
from irgrad import serialization
from irgrad.serialization import LoadError

ALL_DTYPES = [
    irgrad.float16,
    irgrad.float32,
    irgrad.float64,
    irgrad.uint8,
    irgrad.int8,
    irgrad.int16,
    irgrad.int32,
    irgrad.int64,
    irgrad.bool,
]
SHAPES = [(), (0,), (3,), (2, 0, 3), (2, 3), (1, 2, 3, 2)]


def roundtrip(obj):
    buf = io.BytesIO()
    irgrad.save(obj, buf)
    buf.seek(0)
    return irgrad.load(buf)


def assert_same(a, b):
    """Deep equality with exact types, dtypes, shapes, bit-exact values and requires_grad."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, irgrad.Tensor):
        assert a.dtype is b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
        assert np.array_equal(a.detach().numpy(), b.detach().numpy(), equal_nan=a.is_floating_point())
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys())
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float):
        assert a == b or (math.isnan(a) and math.isnan(b))
        assert math.copysign(1, a) == math.copysign(1, b)
    else:
        assert a == b


def random_array(dtype, shape, rng):
    if dtype is irgrad.bool:
        return np.asarray(rng.random(shape) < 0.5)
    if dtype.is_floating_point:
        return np.asarray(rng.standard_normal(shape), dtype=dtype.np)
    info = np.iinfo(dtype.np)
    return np.asarray(rng.integers(info.min, info.max, shape, dtype=dtype.np, endpoint=True))


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_roundtrip_every_dtype_and_shape(dtype):
    rng = np.random.default_rng(0)
    tensors = [irgrad.from_numpy(random_array(dtype, shape, rng)) for shape in SHAPES]
    loaded = roundtrip(tensors)
    assert_same(tensors, loaded)
    for t in loaded:
        assert t.numpy().flags.writeable and t.numpy().flags.c_contiguous


def test_special_float_values_roundtrip_bit_exact():
    values = np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324, 1.7976931348623157e308], dtype=np.float64)
    for dt in (np.float16, np.float32, np.float64):
        with np.errstate(over="ignore"):
            t = irgrad.from_numpy(values.astype(dt))
        out = roundtrip(t)
        assert out.numpy().tobytes() == t.numpy().tobytes()


def test_noncontiguous_tensors_saved_contiguous():
    base = irgrad.arange(24.0).reshape(2, 3, 4)
    for view in (base.transpose(0, 2), base[:, ::2, 1:], base.permute(2, 0, 1)[1:]):
        out = roundtrip(view)
        assert_same(view, out)
        assert out.is_contiguous()


def test_requires_grad_preserved_and_loaded_as_leaf():
    leaf = irgrad.randn(3, requires_grad=True)
    nonleaf = leaf * 2
    out = roundtrip({"leaf": leaf, "nonleaf": nonleaf, "plain": leaf.detach()})
    assert out["leaf"].requires_grad and out["leaf"].is_leaf
    # torch.save of a non-leaf that requires grad loads as a leaf that requires grad
    assert out["nonleaf"].requires_grad and out["nonleaf"].is_leaf and out["nonleaf"].grad_fn is None
    assert not out["plain"].requires_grad
    out["nonleaf"].sum().backward()
    assert out["nonleaf"].grad.tolist() == [1.0, 1.0, 1.0]


def test_nested_python_values_keep_types():
    obj = collections.OrderedDict(
        [
            ("ints", [0, -1, 2**70, True, False]),
            ("floats", (0.1, -0.0, float("inf"), float("nan"), 1e-310)),
            ("strs", ["", "üñí©ødé", "a\x00b", '"quoted"\n']),
            ("none", None),
            (1, {"int key": 1}),
            ((1, "tuple key"), [irgrad.float64, irgrad.int32, irgrad.bool]),
            (2.5, irgrad.Size([2, 3])),
            ("empty", [[], (), {}, collections.OrderedDict()]),
        ]
    )
    out = roundtrip(obj)
    assert_same(obj, out)
    assert isinstance(out, collections.OrderedDict) and type(out["empty"][2]) is dict
    assert out[(1, "tuple key")][0] is irgrad.float64


def test_numpy_arrays_and_scalar_subclasses():
    arr = np.arange(6, dtype=np.int16).reshape(2, 3)
    out = roundtrip({"arr": arr, "f": np.float64(1.5), "d": collections.defaultdict(int, a=1)})
    assert_same(arr, out["arr"])
    assert type(out["f"]) is float and out["f"] == 1.5
    assert type(out["d"]) is dict and out["d"] == {"a": 1}


def test_shared_tensors_load_as_one_object():
    w = irgrad.randn(4, 3, requires_grad=True)
    state = {"encoder.weight": w, "decoder.weight": w, "other": [w, w.detach()], "twin": w.detach()}
    out = roundtrip(state)
    assert out["encoder.weight"] is out["decoder.weight"] is out["other"][0]
    twin, detached = out["twin"], out["other"][1]
    assert twin is not out["encoder.weight"]
    # tensors viewing the same memory still share it after loading
    with irgrad.no_grad():
        twin.fill_(7.0)
    assert out["encoder.weight"].detach().numpy().max() == 7.0 and detached.numpy().max() == 7.0
    buf = io.BytesIO()
    irgrad.save(state, buf)
    assert len(buf.getvalue()) < 4 * 3 * 4 * 2 + 2048  # the weight's bytes are stored once


def test_module_state_dict_roundtrip_with_tied_weights():
    nn = irgrad.nn
    irgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
    model[2].weight = model[0].weight
    state = model.state_dict()
    loaded = roundtrip(state)
    assert isinstance(loaded, collections.OrderedDict) and list(loaded) == list(state)
    assert loaded["0.weight"]._data is loaded["2.weight"]._data
    fresh = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
    fresh.load_state_dict(loaded)
    x = irgrad.randn(2, 4)
    fresh[2].weight = fresh[0].weight
    assert np.array_equal(fresh(x).detach().numpy(), model(x).detach().numpy())


def test_parameters_load_as_parameters():
    p = irgrad.nn.Parameter(irgrad.randn(3))
    frozen = irgrad.nn.Parameter(irgrad.randn(2), requires_grad=False)
    out = roundtrip([p, frozen, p])
    assert type(out[0]) is irgrad.nn.Parameter and out[0].requires_grad and out[0] is out[2]
    assert type(out[1]) is irgrad.nn.Parameter and not out[1].requires_grad
    assert_same(p.detach(), out[0].detach())


def test_paths_and_file_objects(tmp_path):
    obj = {"x": irgrad.arange(5), "y": [1.5, "s"]}
    for target in (str(tmp_path / "a.irg"), tmp_path / "b.irg"):
        irgrad.save(obj, target)
        assert_same(obj, irgrad.load(target))
    with open(tmp_path / "c.irg", "wb") as fh:
        irgrad.save(obj, fh)
    with open(tmp_path / "c.irg", "rb") as fh:
        assert_same(obj, irgrad.load(fh))
    # several objects back to back in one stream
    buf = io.BytesIO()
    irgrad.save(obj, buf)
    irgrad.save([irgrad.ones(2)], buf)
    buf.seek(0)
    assert_same(obj, irgrad.load(buf))
    assert_same([irgrad.ones(2)], irgrad.load(buf))


def test_non_seekable_stream():
    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self.data, self.pos = data, 0

        def readable(self):
            return True

        def readinto(self, b):  # at most 7 bytes a call, like a slow pipe
            n = min(len(b), 7, len(self.data) - self.pos)
            b[:n] = self.data[self.pos : self.pos + n]
            self.pos += n
            return n

    obj = {"t": irgrad.randn(5, 5)}
    buf = io.BytesIO()
    irgrad.save(obj, buf)
    assert_same(obj, irgrad.load(Pipe(buf.getvalue())))


def test_map_location():
    t = irgrad.ones(2)
    for loc in (None, "cpu", irgrad.device("cpu"), {"cpu": "cpu"}):
        buf = io.BytesIO()
        irgrad.save(t, buf)
        buf.seek(0)
        assert_same(t, irgrad.load(buf, map_location=loc))
    buf.seek(0)
    seen = []
    out = irgrad.load(buf, map_location=lambda storage, loc: seen.append(loc) or storage)
    assert seen == ["cpu"]
    assert_same(t, out)
    buf.seek(0)
    with pytest.raises(RuntimeError):
        irgrad.load(buf, map_location="cuda:0")


def test_file_format_matches_documentation():
    t = irgrad.arange(3, dtype=irgrad.int32)
    buf = io.BytesIO()
    irgrad.save({"t": t}, buf)
    raw = buf.getvalue()
    magic, version, header_len, header_crc = struct.unpack_from("<8sIQI", raw)
    assert magic == b"\x89IRGRAD\n" and version == serialization.FORMAT_VERSION == 1
    header_bytes = raw[24 : 24 + header_len]
    assert zlib.crc32(header_bytes) == header_crc
    header = json.loads(header_bytes)
    assert header["root"] == ["dict", [[["str", "t"], ["tensor", 0]]]]
    (storage,) = header["storages"]
    start = -(-(24 + header_len) // 64) * 64
    data = raw[start + storage["offset"] : start + storage["offset"] + storage["nbytes"]]
    assert np.frombuffer(data, dtype="<i4").tolist() == [0, 1, 2]
    assert len(raw) == start + header["data_size"]


# ---------------------------------------------------------------- unsupported objects


def test_unsupported_objects_name_type_and_location():
    cases = [
        ({"layer": {"fn": len}}, "builtin_function_or_method", "obj['layer']['fn']"),
        ([1, (2, {3: object()})], "object", "obj[1][1][3]"),
        ({"s": {1, 2}}, "set", "obj['s']"),
        ({"c": 1 + 2j}, "complex", "obj['c']"),
        ({"b": b"bytes"}, "bytes", "obj['b']"),
        ({"a": np.array(["x"])}, "<U1", "obj['a']"),
    ]
    for obj, type_name, where in cases:
        with pytest.raises(TypeError) as info:
            roundtrip(obj)
        assert type_name in str(info.value) and where in str(info.value), str(info.value)


def test_cycles_are_rejected():
    a = [1]
    a.append(a)
    with pytest.raises(ValueError, match=r"cycle at obj\[1\]"):
        roundtrip(a)
    shared = [irgrad.ones(1)]
    assert_same([shared, shared], roundtrip([shared, shared]))  # sharing is not a cycle


# ---------------------------------------------------------------- atomic saves


def snapshot(directory):
    return {p.name: p.read_bytes() for p in pathlib.Path(directory).iterdir()}


def test_failed_save_leaves_old_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "ckpt.irg"
    old = {"w": irgrad.ones(3)}
    irgrad.save(old, target)
    before = snapshot(tmp_path)
    new = {"a": irgrad.zeros(1000), "b": irgrad.zeros(1000), "c": irgrad.zeros(1000)}

    calls = []
    real_write = serialization.writing._write_storage

    def failing_write(f, data):
        calls.append(1)
        if len(calls) == 2:  # crash after the first array's bytes reached the temp file
            raise OSError("disk full (simulated)")
        real_write(f, data)

    monkeypatch.setattr(serialization.writing, "_write_storage", failing_write)
    with pytest.raises(OSError, match="simulated"):
        irgrad.save(new, target)
    assert len(calls) == 2
    assert snapshot(tmp_path) == before  # old file unchanged, no temp file left
    monkeypatch.undo()

    def failing_fsync(fd):
        raise OSError("fsync failed (simulated)")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="fsync failed"):
        irgrad.save(new, target)
    assert snapshot(tmp_path) == before
    monkeypatch.undo()

    irgrad.save(new, target)
    assert_same(new, irgrad.load(target))
    assert list(snapshot(tmp_path)) == ["ckpt.irg"]


def test_serialization_error_midway_leaves_old_file_intact(tmp_path):
    target = tmp_path / "ckpt.irg"
    irgrad.save([1, 2, 3], target)
    before = snapshot(tmp_path)

    class Exploding(dict):
        def items(self):
            yield "fine", irgrad.ones(2)
            raise RuntimeError("boom halfway")

    with pytest.raises(RuntimeError, match="boom halfway"):
        irgrad.save({"ok": irgrad.ones(3), "bad": Exploding()}, target)
    with pytest.raises(TypeError, match=r"obj\['model'\]\['act'\]"):
        irgrad.save({"model": {"w": irgrad.ones(2), "act": lambda x: x}}, target)
    assert snapshot(tmp_path) == before
    assert irgrad.load(target) == [1, 2, 3]


def test_save_through_symlink_and_keeps_mode(tmp_path):
    real = tmp_path / "real.irg"
    irgrad.save(1, real)
    os.chmod(real, 0o640)
    link = tmp_path / "link.irg"
    link.symlink_to(real)
    irgrad.save(2, link)
    assert link.is_symlink() and irgrad.load(real) == 2
    assert os.stat(real).st_mode & 0o777 == 0o640


# ---------------------------------------------------------------- hostile and broken files


def saved_bytes(obj):
    buf = io.BytesIO()
    irgrad.save(obj, buf)
    return buf.getvalue()


def load_bytes(tmp_path, data, name="f.irg"):
    path = tmp_path / name
    path.write_bytes(data)
    return irgrad.load(path)


def test_every_truncation_is_detected(tmp_path):
    data = saved_bytes({"w": irgrad.randn(4, 4), "b": [irgrad.arange(3), 2.5]})
    path = tmp_path / "cut.irg"
    for n in range(len(data)):
        path.write_bytes(data[:n])
        with pytest.raises(LoadError, match="cut.irg") as info:
            irgrad.load(path)
        assert ("empty" if n == 0 else "truncated") in str(info.value)
        with pytest.raises(LoadError):
            irgrad.load(io.BytesIO(data[:n]))


def test_empty_garbage_and_trailing_bytes(tmp_path):
    with pytest.raises(LoadError, match="empty"):
        load_bytes(tmp_path, b"")
    rng = np.random.default_rng(0)
    for size in (1, 7, 100, 5000):
        with pytest.raises(LoadError, match="not an irgrad file"):
            load_bytes(tmp_path, b"x" + rng.bytes(size))
    with pytest.raises(LoadError, match="unexpected bytes after the end"):
        load_bytes(tmp_path, saved_bytes(irgrad.ones(3)) + b"junk")
    with pytest.raises(LoadError, match="unsupported irgrad format version 2"):
        good = bytearray(saved_bytes(1))
        good[8:12] = struct.pack("<I", 2)
        load_bytes(tmp_path, bytes(good))


def test_bit_flips_are_detected(tmp_path):
    data = saved_bytes({"w": irgrad.randn(8, 8)})
    header_len = struct.unpack_from("<Q", data, 12)[0]
    for pos in (30, 24 + header_len - 2, len(data) - 1, len(data) - 100):
        flipped = bytearray(data)
        flipped[pos] ^= 0x10
        with pytest.raises(LoadError, match="checksum mismatch|corrupted"):
            load_bytes(tmp_path, bytes(flipped))


def rewrite_header(data, edit):
    """``data`` with its JSON header replaced by ``edit(header)`` and a valid checksum."""
    header_len = struct.unpack_from("<Q", data, 12)[0]
    header = json.loads(data[24 : 24 + header_len])
    new = json.dumps(edit(header)).encode()
    body = data[-(-(24 + header_len) // 64) * 64 :]
    pad = bytes(-(-(24 + len(new)) // 64) * 64 - 24 - len(new))
    return struct.pack("<8sIQI", b"\x89IRGRAD\n", 1, len(new), zlib.crc32(new)) + new + pad + body


def test_crafted_headers_with_valid_checksums_are_rejected(tmp_path):
    data = saved_bytes({"t": irgrad.arange(4, dtype=irgrad.int64)})

    def set_path(*keys, value):
        def edit(h):
            node = h
            for k in keys[:-1]:
                node = node[k]
            node[keys[-1]] = value
            return h

        return edit

    edits = [
        set_path("root", value=["eval", "__import__('os').system('touch x')"]),
        set_path("root", value=["dict", [[["str", "t"], ["tensor", 5]]]]),
        set_path("root", value=["dict", [[["list", []], ["none"]]]]),
        set_path("root", value={"not": "a node"}),
        set_path("storages", 0, "dtype", value="object"),
        set_path("storages", 0, "shape", value=[-4]),
        set_path("storages", 0, "shape", value=[2**40]),
        set_path("storages", 0, "nbytes", value=8),
        set_path("storages", 0, "offset", value=3),
        set_path("tensors", 0, "requires_grad", value=True),
        set_path("tensors", 0, "storage", value=9),
        set_path("data_size", value=-1),
        set_path("format", value="pickle"),
    ]
    for edit in edits:
        with pytest.raises(LoadError, match="f.irg"):
            load_bytes(tmp_path, rewrite_header(data, edit))
    assert_same({"t": irgrad.arange(4)}, load_bytes(tmp_path, rewrite_header(data, lambda h: h)))


def test_torch_save_checkpoints_load_without_torch_code(tmp_path):
    """A torch.save archive: every dtype, views sharing a storage, a transposed tensor,
    parameters, nested containers and plain values come back as irgrad objects."""
    torch = pytest.importorskip("torch")
    base = torch.arange(12.0).reshape(3, 4)
    obj = {
        "weight": torch.nn.Parameter(torch.randn(4, 3)),
        "transposed": base.t(),
        "row": base[1],  # shares base's storage at an offset
        "ints": [torch.arange(5), torch.tensor([True, False]), torch.ones(2, dtype=torch.float16)],
        "pair": (torch.zeros(2, dtype=torch.float64), 7, "text", None, 2.5),
        "empty": torch.zeros(0, 3),
        "scalar": torch.tensor(3.5),
    }
    path = tmp_path / "model.pt"
    torch.save(obj, path)
    got = irgrad.load(path)
    assert isinstance(got["weight"], irgrad.nn.Parameter) and got["weight"].requires_grad
    for key in ("weight", "transposed", "row", "empty", "scalar"):
        np.testing.assert_array_equal(got[key].detach().numpy(), obj[key].detach().numpy())
        assert tuple(got[key].shape) == tuple(obj[key].shape)
    for mine, theirs in zip(got["ints"], obj["ints"]):
        assert mine.dtype.name == str(theirs.dtype).split(".")[-1]
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert got["pair"][1:] == (7, "text", None, 2.5) and got["pair"][0].dtype == irgrad.float64


def test_a_pytorch_state_dict_loads_into_the_same_irgrad_model(tmp_path):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Flatten(), torch.nn.Linear(8, 3)
    )
    theirs.eval()
    torch.save(theirs.state_dict(), tmp_path / "weights.pt")
    mine = irgrad.nn.Sequential(
        irgrad.nn.Conv2d(1, 2, 3), irgrad.nn.BatchNorm2d(2), irgrad.nn.Flatten(), irgrad.nn.Linear(8, 3)
    )
    mine.load_state_dict(irgrad.load(tmp_path / "weights.pt"))
    mine.eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32)
    with irgrad.no_grad():
        np.testing.assert_allclose(
            mine(irgrad.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6
        )


def _torch_like_archive(path, payload: bytes, storages: dict | None = None) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/byteorder", "little")
        for key, data in (storages or {}).items():
            z.writestr(f"archive/data/{key}", data)


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_a_malicious_torch_archive_executes_nothing(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    _torch_like_archive(path, pickle.dumps({"w": Exploit(marker)}, protocol=protocol))
    with pytest.raises(LoadError, match=r"evil.pt.*posix.system|evil.pt.*os.system|evil.pt.*does not load"):
        irgrad.load(path)
    assert not marker.exists()


def test_a_torch_archive_with_a_truncated_storage_is_refused(tmp_path):
    import zipfile

    torch = pytest.importorskip("torch")
    good = tmp_path / "good.pt"
    torch.save({"w": torch.ones(8)}, good)
    bad = tmp_path / "bad.pt"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data[:4] if name.endswith("/data/0") else data)
    with pytest.raises(LoadError, match="bad.pt.*storage '0' is truncated"):
        irgrad.load(bad)


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_malicious_pickle_executes_nothing(tmp_path, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Exploit(marker), protocol=protocol)
    path = tmp_path / "evil.pt"
    path.write_bytes(payload)
    with pytest.raises(LoadError, match="evil.pt.*(pickle|not an irgrad file)"):
        irgrad.load(path)
    with pytest.raises(LoadError):
        irgrad.load(io.BytesIO(payload), weights_only=False)
    assert not marker.exists()


def test_file_object_errors_name_the_file(tmp_path):
    path = tmp_path / "named.irg"
    path.write_bytes(b"garbage!" * 10)
    with open(path, "rb") as fh, pytest.raises(LoadError, match="named.irg"):
        irgrad.load(fh)
    with pytest.raises(LoadError, match="BytesIO"):
        irgrad.load(io.BytesIO(b"garbage!"))
    with pytest.raises(FileNotFoundError):
        irgrad.load(tmp_path / "missing.irg")


# ---------------------------------------------------------------- randomized structures

dtypes_st = st.sampled_from(ALL_DTYPES)
shapes_st = st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple)


@st.composite
def tensors(draw):
    dtype, shape = draw(dtypes_st), draw(shapes_st)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    t = irgrad.from_numpy(random_array(dtype, shape, rng))
    if dtype.is_floating_point and draw(st.booleans()):
        t.requires_grad_(True)
    if len(shape) >= 2 and draw(st.booleans()):
        t = t.transpose(0, 1).detach()
    return t


leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | dtypes_st
    | tensors()
)
keys = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=5)
    | st.tuples(st.integers(), st.text(max_size=3))
)


def structures():
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=4)
            | st.lists(children, max_size=4).map(tuple)
            | st.dictionaries(keys, children, max_size=4)
            | st.dictionaries(keys, children, max_size=4).map(collections.OrderedDict)
        ),
        max_leaves=12,
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=structures())
def test_random_nested_structures_roundtrip(obj):
    assert_same(obj, roundtrip(obj))
