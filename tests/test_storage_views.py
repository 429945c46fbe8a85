"""Storage geometry torch shows through storage_offset(), untyped_storage() and stride():
mmap-loaded checkpoints, views of a storage, empty tensors (issue #12)."""

from __future__ import annotations

import pytest
import torch

import ember


def _views(lib):
    base = lib.arange(24, dtype=lib.float32)
    return {"base": base, "tail": base[5:], "mat": base[4:16].reshape(3, 4).t(), "other": lib.arange(6)}


@pytest.mark.parametrize("writer", ["torch", "ember"])
def test_mmap_load_keeps_offsets_and_storages(tmp_path, writer):
    path = tmp_path / "v.pt"
    (torch if writer == "torch" else ember).save(_views(torch if writer == "torch" else ember), path)
    want = torch.load(path, mmap=True, weights_only=True)
    for mmap in (True, False):
        got = ember.load(path, mmap=mmap)
        for k, t in want.items():
            g = got[k]
            assert g.storage_offset() == t.storage_offset(), (k, mmap)
            assert g.stride() == t.stride() and g.tolist() == t.tolist()
            assert g.untyped_storage().nbytes() == t.untyped_storage().nbytes(), (k, mmap)
        ptr = {k: got[k].untyped_storage().data_ptr() for k in got}
        assert ptr["base"] == ptr["tail"] == ptr["mat"] != ptr["other"]


def test_mmap_tensors_are_writable_copies_on_write(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"a": torch.arange(4.0)}, path)
    before = path.read_bytes()
    a = ember.load(path, mmap=True)["a"]
    a.add_(1)
    assert a.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert path.read_bytes() == before


def test_untyped_storage_nbytes_is_the_whole_storage():
    for make in (
        lambda m: m.arange(10.0)[2:5],
        lambda m: m.arange(10.0)[::3],
        lambda m: m.arange(12.0).reshape(3, 4).t(),
        lambda m: m.arange(12.0).reshape(3, 4)[1],
        lambda m: m.ones(4, dtype=m.float64).view(2, 2),
    ):
        assert make(ember).untyped_storage().nbytes() == make(torch).untyped_storage().nbytes()


@pytest.mark.parametrize("shape", [(0, 3), (2, 0, 3), (0,), (3, 0), (0, 0), (1, 0, 1)])
def test_empty_tensor_strides_match_torch(shape):
    for make in ("zeros", "ones", "empty", "randn"):
        assert getattr(ember, make)(*shape).stride() == getattr(torch, make)(*shape).stride(), make
    assert ember.zeros(*shape).stride(0) == torch.zeros(*shape).stride(0)
