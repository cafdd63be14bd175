"""The .safetensors format, written and read by irgrad itself (issue 14): round trips,
files of the safetensors package both ways (when it is installed), memory mapping, and
corrupted or hostile headers refused before any data is read."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import irgrad
from irgrad import safetensors as S
from irgrad.serialization import LoadError


def sample() -> dict:
    rng = np.random.default_rng(0)
    return {
        "weight": irgrad.tensor(rng.standard_normal((3, 4)).astype(np.float32)),
        "double": irgrad.tensor(rng.standard_normal(2)),
        "half": irgrad.ones(5, dtype=irgrad.float16),
        "ids": irgrad.arange(6),
        "mask": irgrad.tensor([True, False, True]),
        "empty": irgrad.zeros(0, 3),
        "scalar": irgrad.tensor(2.5),
        "transposed": irgrad.arange(6.0).reshape(2, 3).t(),
    }


def assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and tuple(a[k].shape) == tuple(b[k].shape), k
        np.testing.assert_array_equal(a[k].detach().numpy(), b[k].detach().numpy())


def test_round_trip_through_a_file_and_through_bytes(tmp_path):
    path = tmp_path / "m.safetensors"
    S.save_file(sample(), path, metadata={"format": "pt"})
    assert_same(S.load_file(path), sample())
    assert_same(irgrad.load(path), sample())  # irgrad.load recognises the format
    assert S.metadata_of(path) == {"format": "pt"}
    assert_same(S.load(S.save(sample())), sample())


def test_mmap_maps_the_file_copy_on_write(tmp_path):
    path = tmp_path / "m.safetensors"
    S.save_file(sample(), path)
    mapped = irgrad.load(path, mmap=True)
    assert_same(mapped, sample())
    mapped["weight"].add_(1.0)  # private pages: the file is unchanged
    assert_same(S.load_file(path), sample())


def test_files_of_the_safetensors_package_both_ways(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    theirs = {"w": torch.randn(3, 4), "i": torch.arange(5), "h": torch.ones(2, dtype=torch.float16)}
    st.save_file(theirs, tmp_path / "theirs.safetensors", metadata={"k": "v"})
    mine = S.load_file(tmp_path / "theirs.safetensors")
    for k, v in theirs.items():
        np.testing.assert_array_equal(mine[k].numpy(), v.numpy())
    S.save_file(mine, tmp_path / "mine.safetensors")
    back = st.load_file(tmp_path / "mine.safetensors")
    assert all(torch.equal(back[k], theirs[k]) for k in theirs)


def _file(tmp_path, header: dict, data: bytes = b"", length: int | None = None):
    text = json.dumps(header).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)
    return path


@pytest.mark.parametrize(
    "header,data,message",
    [
        ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8, "leave the file"),
        ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}, b"\0" * 16, "do not hold shape"),
        (
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            },
            b"\0" * 12,
            "overlap",
        ),
        ({"a": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "no known dtype"),
        ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "bad shape"),
    ],
)
def test_hostile_headers_are_refused(tmp_path, header, data, message):
    path = _file(tmp_path, header, data)
    with pytest.raises(S.SafetensorError, match=message):
        S.load_file(path)
    with pytest.raises(LoadError, match=message):
        irgrad.load(path)


def test_a_header_longer_than_the_file_is_refused(tmp_path):
    path = _file(tmp_path, {}, length=10**6)
    with pytest.raises(S.SafetensorError, match="does not fit"):
        S.load_file(path)
    with pytest.raises(S.SafetensorError, match="not a tensor"):
        S.save({"a": np.zeros(2)})
