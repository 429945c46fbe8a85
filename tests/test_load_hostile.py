"""ember.load(weights_only=True) against the probe's hostile files, in process (the capped
fuzzing run is tests/test_load_fuzz.py), and the legitimate state it must still restore."""

from __future__ import annotations

import io
import pickle

import pytest
import torch

import ember
from ember import _pickle_safe

STORAGE_DTYPE_BUILD = b"\x80\x02ctorch\nFloatStorage\n}X\x05\x00\x00\x00dtypectorch\nint32\nsb."


def _roundtrip_float32() -> list[float]:
    buf = io.BytesIO()
    ember.save({"w": ember.tensor([1.5, -2.0])}, buf)
    buf.seek(0)
    out = ember.load(buf)["w"]
    assert out.dtype is ember.float32
    return out.tolist()


def _set_state_on_global(module: str, name: str, attr: str) -> bytes:
    # GLOBAL, (None, {attr: 1}) BUILD: pickle's slot-state path, setattr on the global itself
    a = attr.encode()
    return (
        b"\x80\x02c"
        + f"{module}\n{name}\n".encode()
        + b"N}X"
        + len(a).to_bytes(4, "little")
        + a
        + b"K\x01s\x86b."
    )


@pytest.mark.parametrize(
    "module,name,attr,probe",
    [
        ("torch", "Tensor", "tolist", lambda: ember.Tensor.tolist),
        ("torch", "float32", "is_floating_point", lambda: ember.float32.is_floating_point),
        (
            "torch._utils",
            "_rebuild_tensor_v2",
            "__defaults__",
            lambda: _pickle_safe.rebuild_tensor_v2.__defaults__,
        ),
        ("torch", "device", "__repr__", lambda: ember.device.__repr__),
        ("torch", "Size", "numel", lambda: ember.Size.numel),
    ],
)
def test_build_on_an_allowed_global_changes_nothing(module, name, attr, probe):
    before = probe()
    with pytest.raises(pickle.UnpicklingError, match="BUILD may only set the state"):
        ember.load(io.BytesIO(_set_state_on_global(module, name, attr)))
    assert probe() is before or probe() == before
    assert _roundtrip_float32() == [1.5, -2.0]


def test_storage_dtype_build_does_not_poison_later_loads():
    with pytest.raises(pickle.UnpicklingError, match="BUILD may only set the state"):
        ember.load(io.BytesIO(STORAGE_DTYPE_BUILD))
    assert _pickle_safe.TORCH_GLOBALS["torch.FloatStorage"].dtype is ember.float32
    assert _roundtrip_float32() == [1.5, -2.0]


def test_huge_memo_index_costs_no_memory():
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for idx in (b"\x00\x00\x00\x04", b"\x00\x00\x00\x40", b"\xff\xff\xff\xff"):
        with pytest.raises(RuntimeError, match="Invalid magic number"):
            ember.load(io.BytesIO(b"\x80\x02Nr" + idx + b"."))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # kB


def test_torch_state_is_restored_where_it_is_data(tmp_path):
    lin = torch.nn.Linear(2, 2)
    t = torch.ones(2)
    t.note = "hi"
    p = torch.nn.Parameter(torch.ones(2))
    p.tag = 3
    torch.save({"sd": lin.state_dict(), "t": t, "p": p, "s": {1, 2}, "b": b"xy"}, tmp_path / "c.pt")
    out = ember.load(tmp_path / "c.pt")
    assert out["sd"]._metadata == lin.state_dict()._metadata
    assert out["t"].note == "hi" and out["p"].tag == 3 and isinstance(out["p"], ember.nn.Parameter)
    assert out["s"] == {1, 2} and out["b"] == b"xy"


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_pickle_protocol_loads(tmp_path, protocol):
    obj = {"w": torch.arange(6.0).reshape(2, 3), "n": [1, 2.5, "x", None, True], "f": frozenset({3})}
    torch.save(obj, tmp_path / "p.pt", pickle_protocol=protocol)
    out = ember.load(tmp_path / "p.pt")
    assert out["w"].tolist() == obj["w"].tolist() and out["n"] == obj["n"] and out["f"] == obj["f"]


def test_corrupt_files_raise_documented_errors_only():
    buf = io.BytesIO()
    torch.save({"w": torch.arange(4.0)}, buf)
    data = buf.getvalue()
    kinds = set()
    for i in range(0, len(data), 7):
        for value in (0x00, 0xFF, 0x7F):
            bad = bytearray(data)
            bad[i] = value
            try:
                ember.load(io.BytesIO(bytes(bad)))
            except (RuntimeError, pickle.UnpicklingError) as e:
                kinds.add(type(e).__name__)
    assert kinds <= {"RuntimeError", "UnpicklingError"} and kinds


def test_map_location_errors_are_the_callers_not_wrapped():
    buf = io.BytesIO()
    ember.save({"w": ember.ones(2)}, buf)

    def refuse(storage, location):
        raise KeyError("no such device here")

    buf.seek(0)
    with pytest.raises(KeyError, match="no such device here"):
        ember.load(buf, map_location=refuse)
