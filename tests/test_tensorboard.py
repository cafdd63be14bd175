"""irgrad.utils.tensorboard: the event files ``SummaryWriter`` writes, read back by a
TFRecord and protobuf reader written here (both CRCs of every record checked), and
compared with numpy, known CRC-32C values and records PyTorch's writer wrote; read by
TensorBoard's own reader too when the ``tensorboard`` package is installed."""

from __future__ import annotations

import ast
import gc
import glob
import os
import re
import socket
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

import irgrad
from irgrad.utils.tensorboard import SummaryWriter
from irgrad.utils.tensorboard.records import crc32c, masked_crc32c
from irgrad.utils.tensorboard.summaries import TENSORFLOW_BINS

# --- a reader: records, protobuf fields, events -----------------------------------------


def event_files(log_dir) -> list[str]:
    return sorted(glob.glob(os.path.join(str(log_dir), "events.out.tfevents.*")))


def read_records(path) -> list[bytes]:
    """The data of each TFRecord in the file, after checking both masked CRC-32Cs."""
    data = Path(path).read_bytes()
    out, pos = [], 0
    while pos < len(data):
        header = data[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[pos + 8 : pos + 12])
        body = data[pos + 12 : pos + 12 + length]
        (body_crc,) = struct.unpack("<I", data[pos + 12 + length : pos + 16 + length])
        assert header_crc == masked_crc32c(header) and body_crc == masked_crc32c(body)
        out.append(body)
        pos += 16 + length
    assert pos == len(data)
    return out


def fields(message: bytes) -> dict[int, list]:
    """One level of a protobuf message: field number -> its values (an int for a
    varint, a float for fixed64 (double) and fixed32 (float), bytes otherwise)."""
    out: dict[int, list] = {}
    pos = 0

    def varint() -> int:
        nonlocal pos
        value = shift = 0
        while True:
            byte = message[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while pos < len(message):
        key = varint()
        wire = key & 7
        if wire == 0:
            value = varint()
        elif wire == 1:
            (value,) = struct.unpack("<d", message[pos : pos + 8])
            pos += 8
        elif wire == 5:
            (value,) = struct.unpack("<f", message[pos : pos + 4])
            pos += 4
        else:
            assert wire == 2, wire
            length = varint()
            value = message[pos : pos + length]
            pos += length
        out.setdefault(key >> 3, []).append(value)
    return out


def first(message: bytes, number: int, default=None):
    return fields(message).get(number, [default])[0]


def decode_event(data: bytes) -> dict:
    f = fields(data)
    step = f.get(2, [0])[0]
    event = {"wall_time": f.get(1, [0.0])[0], "step": step - (1 << 64) if step >= 1 << 63 else step}
    if 3 in f:
        event["file_version"] = f[3][0].decode()
    if 7 in f:
        event["session_log"] = first(f[7][0], 1, 0)
    if 5 in f:
        event["values"] = [fields(value) for value in fields(f[5][0]).get(1, [])]
    return event


def events(log_dir) -> list[dict]:
    (path,) = event_files(log_dir)
    return [decode_event(record) for record in read_records(path)]


def values(log_dir, tag=None) -> list[tuple[dict, dict]]:
    """(event, Summary.Value fields) of every summary value, of one tag if given."""
    return [
        (event, value)
        for event in events(log_dir)
        for value in event.get("values", [])
        if tag is None or value[1][0].decode() == tag
    ]


def plugin(value: dict) -> tuple[str, bytes]:
    """The plugin name and content of a Summary.Value's metadata."""
    plugin_data = first(value[9][0], 1)
    return first(plugin_data, 1, b"").decode(), first(plugin_data, 2, b"")


def tensor_fields(value: dict) -> tuple[int, list[int], dict]:
    tensor = fields(value[8][0])
    shape = [first(dim, 1, 0) for dim in fields(tensor[2][0]).get(2, [])] if 2 in tensor else None
    return tensor.get(1, [0])[0], shape, tensor


def decode_png(data: bytes) -> np.ndarray:
    """An 8-bit, unfiltered, non-interlaced PNG as (height, width, channels), checking
    each chunk's CRC-32."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0] == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    width, height, depth, color, *_ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    channels = {0: 1, 4: 2, 2: 3, 6: 4}[color]
    assert depth == 8 and b"IEND" in chunks
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, 1 + width * channels)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, channels)


# --- CRC-32C and the records ----------------------------------------------------------------


def _bitwise_crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 * (crc & 1))
    return crc ^ 0xFFFFFFFF


def test_crc32c_of_large_data_in_blocks_equals_the_bytewise_one():
    from irgrad.utils.tensorboard import records

    rng = np.random.default_rng(1)
    for size in (records._BLOCKWISE_FROM, records._BLOCKWISE_FROM + 1, 3 * records._BLOCK * 29 + 5, 300_001):
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        assert records._crc_blockwise(data) == records._crc_bytewise(data) == crc32c(data)
    assert records._crc_blockwise(bytes(70_000)) == records._crc_bytewise(bytes(70_000))


def test_crc32c_known_values():
    assert crc32c(b"") == 0
    assert crc32c(b"123456789") == 0xE3069283
    # RFC 3720 (iSCSI), B.4
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert crc32c(bytes(range(31, -1, -1))) == 0x113FDB5C
    data = np.random.default_rng(0).integers(0, 256, 1000, dtype=np.uint8).tobytes()
    assert crc32c(data) == _bitwise_crc32c(data)
    crc = crc32c(b"123456789")
    assert masked_crc32c(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) % 2**32


# Records PyTorch 2.13's SummaryWriter (with tensorboard 2.21) wrote for the calls in
# test_records_equal_pytorchs, framing and CRCs included.
PYTORCH_RECORDS = [
    "1a00000000000000129bd82d09000000000000044010072a0d0a0b0a046c6f737315000050400a3f1e4e",
    "1f00000000000000514b44180900001040fc54d9412a140a120a0b6368617274732f7a65726f15000000009041fdb5",
    "5f00000000000000503f288609000000000000184010022a520a500a1c6879706572706172616d65746572732f74"
    "6578745f73756d6d61727942260807120412020801421c7c706172616d7c76616c75657c0a7c2d7c2d7c0a7c6c72"
    "7c302e317c4a080a060a047465787465ed1a71",
]


def test_records_equal_pytorchs(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_scalar("loss", 3.25, 7, walltime=2.5)
        writer.add_scalar("charts/zero", 0, 0, walltime=1700000000.25)
        writer.add_text("hyperparameters", "|param|value|\n|-|-|\n|lr|0.1|", 2, walltime=6.0)
    (path,) = event_files(tmp_path)
    data = Path(path).read_bytes()
    version = read_records(path)[0]
    assert data[16 + len(version) :] == bytes.fromhex("".join(PYTORCH_RECORDS))


# --- files, directories, flushing -------------------------------------------------------------


def test_file_names_and_the_version_event(tmp_path):
    before = time.time()
    first_writer = SummaryWriter(str(tmp_path), filename_suffix=".v1")
    second_writer = SummaryWriter(tmp_path / "sub" / "..")
    assert first_writer.get_logdir() == str(tmp_path)
    names = [os.path.basename(p) for p in glob.glob(str(tmp_path / "events.out.tfevents.*"))]
    assert len(names) == 2
    pattern = (
        rf"events\.out\.tfevents\.(\d{{10}})\.{re.escape(socket.gethostname())}\.{os.getpid()}\.\d+(\.v1)?"
    )
    for name in names:
        match = re.fullmatch(pattern, name)
        assert match and abs(int(match[1]) - before) < 5
    assert sum(name.endswith(".v1") for name in names) == 1
    for writer in (first_writer, second_writer):
        (version,) = [decode_event(r) for r in read_records(writer.file_writer.event_file.path)]
        assert version["file_version"] == "brain.Event:2" and version["step"] == 0
        assert before <= version["wall_time"] <= time.time()
        writer.close()


def test_default_log_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    writer = SummaryWriter(comment="_lr0.1")
    log_dir = writer.get_logdir()
    assert re.fullmatch(
        rf"runs/[A-Z][a-z]{{2}}\d\d_\d\d-\d\d-\d\d_{re.escape(socket.gethostname())}_lr0\.1", log_dir
    )
    writer.close()
    assert len(event_files(tmp_path / log_dir)) == 1


def test_context_manager_flushes_and_close_reopens(tmp_path):
    with SummaryWriter(tmp_path, max_queue=100, flush_secs=1000) as writer:
        for step in range(5):
            writer.add_scalar("x", step, step)
        assert len(events(tmp_path)) == 1  # the version event only: the rest wait
    assert [e["step"] for e in events(tmp_path)[1:]] == list(range(5))
    writer.close()  # closing twice does nothing
    writer.add_scalar("x", 9.0, 9)  # a new event file, as PyTorch's
    writer.close()
    assert len(event_files(tmp_path)) == 2


def test_max_queue_flush_secs_and_flush(tmp_path):
    writer = SummaryWriter(tmp_path / "queue", max_queue=3, flush_secs=1000)
    writer.add_scalar("x", 1.0, 1)
    writer.add_scalar("x", 2.0, 2)
    assert len(events(tmp_path / "queue")) == 1
    writer.add_scalar("x", 3.0, 3)  # the third waiting event writes them all
    assert len(events(tmp_path / "queue")) == 4
    writer.add_scalar("x", 4.0, 4)
    writer.flush()
    assert len(events(tmp_path / "queue")) == 5

    timed = SummaryWriter(tmp_path / "timed", max_queue=100, flush_secs=0.05)
    timed.add_scalar("x", 1.0, 1)
    assert len(events(tmp_path / "timed")) == 1
    time.sleep(0.1)
    timed.add_scalar("x", 2.0, 2)  # flush_secs after the last write
    assert len(events(tmp_path / "timed")) == 3

    # dropped without close(): written when garbage collected
    writer.add_scalar("x", 5.0, 5)
    assert len(events(tmp_path / "queue")) == 5
    del writer, timed
    gc.collect()
    assert len(events(tmp_path / "queue")) == 6


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_write_the_parents_events(tmp_path):
    writer = SummaryWriter(tmp_path, max_queue=100, flush_secs=1000)
    writer.add_scalar("x", 1.0, 1)
    pid = os.fork()
    if pid == 0:  # the child drops its copy of the writer
        del writer
        gc.collect()
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    assert len(events(tmp_path)) == 1
    writer.close()
    assert [e["step"] for e in events(tmp_path)] == [0, 1]


def test_purge_step(tmp_path):
    with SummaryWriter(tmp_path, purge_step=40) as writer:
        writer.add_scalar("x", 1.0, 40)
    version, restart, session_start, scalar = events(tmp_path)
    assert restart["step"] == session_start["step"] == 40
    assert restart["file_version"] == "brain.Event:2" and session_start["session_log"] == 1
    assert scalar["step"] == 40


# --- what each add_* writes -----------------------------------------------------------------


def test_scalars(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        start = time.time()
        writer.add_scalar("a", 1, 0)
        writer.add_scalar("a", 2.5, 1)
        writer.add_scalar("a", np.float32(-3.5), 2)
        writer.add_scalar("a", np.array([[4.0]]), 3)
        weight = irgrad.tensor([5.0], requires_grad=True)
        writer.add_scalar("a", weight * 2, -4)
        writer.add_scalar("a", irgrad.tensor(0.0, dtype=irgrad.float64), walltime=12.5)
        writer.add_scalar("a", 1e300, 6)
        end = time.time()
        writer.add_scalar("n", 0.25, 1, new_style=True)
        writer.add_scalar("n", 0.1, 2, new_style=True, double_precision=True)
        with pytest.raises(NotImplementedError, match="Got <class 'list'>, but numpy array or torch tensor"):
            writer.add_scalar("a", [1.0], 0)
        with pytest.raises(AssertionError, match="Tensor should contain one element"):
            writer.add_scalar("a", np.ones(2), 0)
    got = [(e["step"], v[2][0], e["wall_time"]) for e, v in values(tmp_path, "a")]
    assert [(step, value) for step, value, _ in got] == [
        (0, 1.0),
        (1, 2.5),
        (2, -3.5),
        (3, 4.0),
        (-4, 10.0),
        (0, 0.0),
        (6, float("inf")),
    ]
    assert got[5][2] == 12.5
    assert all(start <= wall_time <= end for _, _, wall_time in got[:5])
    (_, single), (_, double) = values(tmp_path, "n")
    assert plugin(single) == ("scalars", b"") and plugin(double) == ("scalars", b"")
    dtype, shape, tensor = tensor_fields(single)
    assert (dtype, shape, np.frombuffer(tensor[5][0], "<f4").tolist()) == (1, None, [0.25])
    dtype, _, tensor = tensor_fields(double)
    assert (dtype, np.frombuffer(tensor[6][0], "<f8").tolist()) == (2, [0.1])


def test_add_scalars_writes_a_run_per_tag(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_scalars("loss/all", {"train": 1.5, "val": irgrad.tensor(2.5)}, 3)
        writer.add_scalars("loss/all", {"train": 0.5}, 4, walltime=9.0)
    assert len(events(tmp_path)) == 1
    train = values(tmp_path / "loss_all_train", "loss/all")
    assert [(e["step"], v[2][0]) for e, v in train] == [(3, 1.5), (4, 0.5)] and train[1][0][
        "wall_time"
    ] == 9.0
    assert [(e["step"], v[2][0]) for e, v in values(tmp_path / "loss_all_val")] == [(3, 2.5)]


def _histogram(log_dir, tag):
    (event, value) = values(log_dir, tag)[-1]
    histo = fields(value[5][0])
    stats = [histo.get(n, [0.0])[0] for n in range(1, 6)]
    limits = np.frombuffer(histo.get(6, [b""])[0], "<f8")
    counts = np.frombuffer(histo.get(7, [b""])[0], "<f8")
    return event, stats, limits, counts


def test_tensorflow_bins():
    positive = TENSORFLOW_BINS[TENSORFLOW_BINS > 0]
    assert np.array_equal(TENSORFLOW_BINS, np.concatenate([-positive[::-1], [0.0], positive]))
    assert positive[0] == 1e-12 and positive[-1] < 1e20 <= positive[-1] * 1.1
    np.testing.assert_allclose(positive[1:] / positive[:-1], 1.1, rtol=1e-12)


@pytest.mark.parametrize("kind", ["numpy", "irgrad"])
def test_histogram_matches_numpy(tmp_path, kind):
    data = np.random.default_rng(1).standard_normal(1000).astype(np.float32) * 3
    with SummaryWriter(tmp_path) as writer:
        writer.add_histogram("w", data if kind == "numpy" else irgrad.tensor(data, requires_grad=True), 5)
    event, (low, high, num, total, squares), limits, counts = _histogram(tmp_path, "w")
    x = data.astype(np.float64)
    assert event["step"] == 5
    assert (low, high, num) == (x.min(), x.max(), 1000)
    np.testing.assert_allclose([total, squares], [x.sum(), x.dot(x)], rtol=1e-12)
    # limits are consecutive default edges; the first bucket is the empty one left of the data
    start = np.searchsorted(TENSORFLOW_BINS, limits[0])
    assert np.array_equal(limits, TENSORFLOW_BINS[start : start + len(limits)])
    assert counts[0] == 0 and counts[1] > 0 and counts[-1] > 0
    assert np.array_equal(counts[1:], np.histogram(x, bins=limits)[0])


def test_histogram_bins_and_max_bins(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_histogram("merged", np.arange(10.0) + 0.5, bins=np.arange(11.0), max_bins=3)
        writer.add_histogram("zeros", np.zeros(5))
        writer.add_histogram("count", np.array([1.0, 1.5, 3.0]), bins=4)
        writer.add_histogram_raw("raw", 0, 5, 10, 20, 50, [1.0, 2, 3], irgrad.tensor([1, 2, 7]), 2)
        with pytest.raises(ValueError, match="The input has no element."):
            writer.add_histogram("empty", np.array([]))
        with pytest.raises(ValueError, match="len\\(bucket_limits\\) != len\\(bucket_counts\\)"):
            writer.add_histogram_raw("raw", 0, 5, 10, 20, 50, [1.0, 2], [1, 2, 7])
    _, _, limits, counts = _histogram(tmp_path, "merged")  # 10 unit buckets in groups of 3
    assert limits.tolist() == [0, 3, 6, 9, 10] and counts.tolist() == [0, 3, 3, 3, 1]
    _, _, limits, counts = _histogram(tmp_path, "zeros")
    assert limits.tolist() == [0, 1e-12] and counts.tolist() == [0, 5]
    _, _, limits, counts = _histogram(tmp_path, "count")
    assert limits.tolist() == [1.0, 1.5, 2.0, 2.5, 3.0] and counts.tolist() == [0, 1, 1, 0, 1]
    _, stats, limits, counts = _histogram(tmp_path, "raw")
    assert stats == [0, 5, 10, 20, 50] and limits.tolist() == [1, 2, 3] and counts.tolist() == [1, 2, 7]


def _image(log_dir, tag):
    (_, value) = values(log_dir, tag)[-1]
    image = fields(value[4][0])
    pixels = decode_png(image[4][0])
    assert [image[n][0] for n in (1, 2, 3)] == list(pixels.shape)
    return pixels


def test_images(tmp_path):
    rng = np.random.default_rng(2)
    chw = rng.random((3, 4, 5))
    rgba = rng.integers(0, 256, (4, 5, 4), dtype=np.uint8)
    grey = rng.random((2, 3)) * 1.4 - 0.2  # clipped to 0..1
    batch = rng.random((10, 1, 2, 3)).astype(np.float32)
    with SummaryWriter(tmp_path) as writer:
        writer.add_image("chw", irgrad.tensor(chw), 1)
        writer.add_image("rgba", rgba, 1, dataformats="HWC")
        writer.add_image("grey", grey, 1, dataformats="HW")
        writer.add_image("one", chw[:1], 1)
        writer.add_images("batch", batch, 1)
        writer.add_images("batch_nhwc", batch.transpose(0, 2, 3, 1), 1, dataformats="nhwc")
        with pytest.raises(AssertionError, match="size of input tensor and input format are different"):
            writer.add_image("bad", chw, 1, dataformats="HW")

    def eight_bits(a):
        return (a.astype(np.float32) * 255).clip(0, 255).astype(np.uint8)

    assert np.array_equal(_image(tmp_path, "chw"), eight_bits(chw.transpose(1, 2, 0)))
    assert np.array_equal(_image(tmp_path, "rgba"), rgba)
    assert np.array_equal(_image(tmp_path, "grey"), eight_bits(np.stack([grey] * 3, 2)))
    assert np.array_equal(
        _image(tmp_path, "one"), eight_bits(np.concatenate([chw[:1]] * 3).transpose(1, 2, 0))
    )
    grid = _image(tmp_path, "batch")  # 8 a row: 2 rows of 2x3 cells, the last 6 cells black
    assert grid.shape == (4, 24, 3)
    assert np.array_equal(grid[2:4, 3:6], eight_bits(np.repeat(batch[9].transpose(1, 2, 0), 3, 2)))
    assert not grid[2:4, 6:].any()
    assert np.array_equal(_image(tmp_path, "batch_nhwc"), grid)


def test_figure(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1, 0.5), dpi=40)
    figure.add_subplot().plot([0, 1], [1, 0])
    with SummaryWriter(tmp_path) as writer:
        writer.add_figure("plot", figure, 3)
        writer.add_figure("plots", [figure, figure], 3)
    assert _image(tmp_path, "plot").shape == (20, 40, 3)
    assert _image(tmp_path, "plots").shape == (20, 80, 3)


def test_text(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_text("hyperparameters", "|param|value|\n|-|-|\n|lr|0.1|", 0)
        writer.add_text("note", "naïve ∑", 7)
    (_, value), (event, note) = values(tmp_path)
    assert value[1][0] == b"hyperparameters/text_summary" and plugin(value) == ("text", b"")
    dtype, shape, tensor = tensor_fields(value)
    assert (dtype, shape, tensor[8]) == (7, [1], [b"|param|value|\n|-|-|\n|lr|0.1|"])
    assert event["step"] == 7 and tensor_fields(note)[2][8] == ["naïve ∑".encode()]


def test_tensor(tmp_path):
    data = np.arange(6, dtype=np.int64).reshape(2, 3) - 2
    with SummaryWriter(tmp_path) as writer:
        writer.add_tensor("ints", irgrad.tensor(data), 1)
        writer.add_tensor("halves", np.array([0.5, -2], dtype=np.float16), 1)
        with pytest.raises(ValueError, match="has unsupported tensor dtype"):
            writer.add_tensor("u", np.zeros(2, np.uint16))
    (_, ints), (_, halves) = values(tmp_path)
    assert plugin(ints) == ("tensor", b"")
    dtype, shape, tensor = tensor_fields(ints)
    assert (dtype, shape) == (9, [2, 3]) and np.array_equal(
        np.frombuffer(tensor[4][0], "<i8").reshape(2, 3), data
    )
    dtype, shape, tensor = tensor_fields(halves)
    assert (dtype, shape, np.frombuffer(tensor[4][0], "<f2").tolist()) == (19, [2], [0.5, -2.0])


def _hparams_content(value: dict) -> dict:
    name, content = plugin(value)
    assert name == "hparams" and 1 not in fields(content)  # version 0, left out
    return fields(content)


def _struct_value(data: bytes):
    (number, (value,)) = next(iter(fields(data).items()))
    return {2: value, 3: value.decode() if isinstance(value, bytes) else value}[number]


def test_hparams(tmp_path):
    hparams = {
        "lr": 0.1,
        "batch": 32,
        "optimizer": "adam",
        "nesterov": True,
        "skip": None,
        "decay": irgrad.tensor(0.5),
    }
    metrics = {"hparam/accuracy": 0.75, "hparam/loss": irgrad.tensor(1.25)}
    with SummaryWriter(tmp_path) as writer:
        writer.add_hparams(
            hparams, metrics, {"optimizer": ["adam", "sgd"], "batch": [32, 64]}, run_name="run1"
        )
        with pytest.raises(TypeError, match="hparam_dict and metric_dict should be dictionary."):
            writer.add_hparams([("lr", 0.1)], metrics)
        with pytest.raises(
            TypeError, match=re.escape("hparam_domain_discrete[batch] should be a list of same type")
        ):
            writer.add_hparams(hparams, metrics, {"batch": [1.5]})
        with pytest.raises(ValueError, match="value should be one of int, float, str, bool, or torch.Tensor"):
            writer.add_hparams({"layers": [1, 2]}, metrics)
    tagged = {v[1][0].decode(): v for _, v in values(tmp_path / "run1")}
    assert list(tagged) == [
        "_hparams_/experiment",
        "_hparams_/session_start_info",
        "_hparams_/session_end_info",
        "hparam/accuracy",
        "hparam/loss",
    ]
    experiment = fields(_hparams_content(tagged["_hparams_/experiment"])[2][0])
    infos = [fields(info) for info in experiment[4]]
    assert [(i[1][0].decode(), i[4][0]) for i in infos] == [
        ("lr", 3),
        ("batch", 3),
        ("optimizer", 1),
        ("nesterov", 3),  # bools are numbers, as PyTorch writes them
        ("decay", 3),
    ]
    domains = {i[1][0].decode(): [_struct_value(v) for v in fields(i[5][0])[1]] for i in infos if 5 in i}
    assert domains == {"batch": [32.0, 64.0], "optimizer": ["adam", "sgd"]}
    assert [first(first(m, 1), 2).decode() for m in experiment[5]] == list(metrics)
    start = fields(_hparams_content(tagged["_hparams_/session_start_info"])[3][0])
    session = {first(entry, 1).decode(): _struct_value(first(entry, 2)) for entry in start[1]}
    assert session == {"lr": 0.1, "batch": 32.0, "optimizer": "adam", "nesterov": 1.0, "decay": 0.5}
    end = _hparams_content(tagged["_hparams_/session_end_info"])[4][0]
    assert first(end, 1) == 1  # STATUS_SUCCESS
    assert [tagged[t][2][0] for t in metrics] == [0.75, 1.25]


def test_unwritten_kinds_raise(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        for name in (
            "add_graph",
            "add_embedding",
            "add_video",
            "add_audio",
            "add_mesh",
            "add_pr_curve",
            "add_custom_scalars",
        ):
            with pytest.raises(NotImplementedError, match=rf"SummaryWriter\.{name}: irgrad does not write"):
                getattr(writer, name)("tag", np.zeros(3))


def test_the_methods_and_arguments_are_pytorchs():
    torch = pytest.importorskip("torch")
    source = Path(torch.__file__).parent / "utils" / "tensorboard" / "writer.py"
    (theirs,) = [
        n
        for n in ast.parse(source.read_text()).body
        if isinstance(n, ast.ClassDef) and n.name == "SummaryWriter"
    ]
    for method in theirs.body:
        if isinstance(method, ast.FunctionDef) and not method.name.startswith("_"):
            ours = getattr(SummaryWriter, method.name)
            if ours.__doc__.startswith("Not implemented"):
                continue
            their_args = [a.arg for a in method.args.args]
            assert list(ours.__code__.co_varnames[: ours.__code__.co_argcount]) == their_args, method.name
            their_defaults = [ast.literal_eval(d) for d in method.args.defaults]
            assert list(ours.__defaults__ or ()) == their_defaults, method.name


def test_tensorboard_reads_the_files(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    with SummaryWriter(tmp_path) as writer:
        for step in range(3):
            writer.add_scalar("charts/episodic_return", step * 1.5, step)
        writer.add_histogram("weights", np.random.default_rng(3).standard_normal(100), 2)
        writer.add_image("image", np.ones((3, 4, 5)), 2)
        writer.add_text("notes", "hello", 2)
    accumulator = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    accumulator.Reload()
    assert [(s.step, s.value) for s in accumulator.Scalars("charts/episodic_return")] == [
        (0, 0),
        (1, 1.5),
        (2, 3),
    ]
    assert accumulator.Histograms("weights")[0].histogram_value.num == 100
    image = accumulator.Images("image")[0]
    assert (image.width, image.height) == (5, 4)
    (text,) = accumulator.Tensors("notes/text_summary")
    assert text.tensor_proto.string_val == [b"hello"]
