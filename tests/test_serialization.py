"""ember.save / ember.load against real torch's checkpoint format, safety and robustness."""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ember

DTYPES = [
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
]


def _np(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().numpy()
    return a._data


def _sample(dt: str, shape=(2, 3), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) * 10
    if dt == "bool":
        return a > 0
    if dt.startswith("complex"):
        return (a + 1j * rng.standard_normal(shape)).astype(dt)
    return a.astype(dt)


def assert_same(e, t) -> None:
    """ember value `e` equals torch value `t`: structure, key order, dtypes, shapes, values."""
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), type(e)
        assert e.dtype.name == str(t.dtype).removeprefix("torch."), (e.dtype, t.dtype)
        assert tuple(e.shape) == tuple(t.shape)
        assert e.requires_grad == t.requires_grad
        np.testing.assert_array_equal(_np(e), _np(t))
    elif isinstance(t, dict):
        assert type(e) is type(t) and list(e) == list(t)
        for k in t:
            assert_same(e[k], t[k])
    elif isinstance(t, (list, tuple)):
        assert type(e) is type(t) and len(e) == len(t)
        for a, b in zip(e, t):
            assert_same(a, b)
    elif isinstance(t, torch.dtype):
        assert e is getattr(ember, str(t).removeprefix("torch."))
    else:
        assert type(e) is type(t) and e == t, (e, t)


# -- ember.save -> torch.load(weights_only=True) ------------------------------------------------
def test_ember_to_torch_all_dtypes_and_structure(tmp_path):
    sd = collections.OrderedDict()
    for i, dt in enumerate(DTYPES):
        sd[f"t_{dt}"] = ember.from_numpy(_sample(dt, (3, 4), i))
    sd["scalar"] = ember.tensor(7)
    sd["empty"] = ember.zeros(0, 3)
    sd["meta"] = {
        "lr": 0.1,
        "betas": (0.9, 0.999),
        "step": 3,
        "names": ["a", "b"],
        "none": None,
        "dtype": ember.float16,
        "big": 2**70,
        "neg": -5,
        "cx": 1 + 2j,
        "by": b"\x00\xff",
    }
    path = tmp_path / "model.pt"
    ember.save(sd, path)
    out = torch.load(path, weights_only=True)
    assert type(out) is collections.OrderedDict and list(out) == list(sd)
    for k in sd:
        if k != "meta":
            assert_same(sd[k], out[k])
    meta = out["meta"]
    assert meta["dtype"] is torch.float16 and meta["big"] == 2**70 and meta["cx"] == 1 + 2j
    assert meta["betas"] == (0.9, 0.999) and meta["names"] == ["a", "b"] and meta["by"] == b"\x00\xff"


def test_ember_to_torch_views_share_storage(tmp_path):
    base = ember.from_numpy(np.arange(24, dtype=np.float32).reshape(4, 6))
    views = {
        "base": base,
        "t": base.transpose(0, 1),
        "row": base[2],
        "sub": base[1:3, 2:5],
        "step": base[:, ::2],
    }
    ember.save(views, tmp_path / "v.pt")
    out = torch.load(tmp_path / "v.pt", weights_only=True)
    ptr = out["base"].untyped_storage().data_ptr()
    for k, v in views.items():
        np.testing.assert_array_equal(out[k].numpy(), _np(v))
        assert out[k].untyped_storage().data_ptr() == ptr, k
    assert out["row"].storage_offset() == 12 and out["t"].stride() == (1, 6)
    out["base"][2, 0] = -1.0  # one storage, as in torch
    assert out["row"][0] == -1.0
    with zipfile.ZipFile(tmp_path / "v.pt") as zf:  # one data record
        assert sorted(n for n in zf.namelist() if "/data/" in n) == ["v/data/0"]


def test_ember_to_torch_parameters_and_optimizer_state(tmp_path):
    w = ember.nn.Parameter(ember.from_numpy(_sample("float32", (3, 2))))
    sd = collections.OrderedDict(weight=w, bias=ember.zeros(3))
    opt = {
        "state": {0: {"step": ember.tensor(2.0), "exp_avg": ember.ones(3, 2)}},
        "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "params": [0, 1]}],
    }
    ember.save({"model": sd, "opt": opt, "param": w}, tmp_path / "ck.pth")
    out = torch.load(tmp_path / "ck.pth", weights_only=True)
    assert isinstance(out["param"], torch.nn.Parameter) and out["param"].requires_grad
    np.testing.assert_array_equal(out["param"].detach().numpy(), _np(w))
    assert out["model"]["weight"] is out["param"]  # one object saved twice stays one object
    assert out["opt"]["param_groups"][0]["params"] == [0, 1]
    assert_same(opt["state"][0]["exp_avg"], out["opt"]["state"][0]["exp_avg"])


def test_storage_records_are_64_byte_aligned(tmp_path):
    ember.save({"a": ember.ones(3), "b": ember.arange(5)}, tmp_path / "x.pt")
    raw = (tmp_path / "x.pt").read_bytes()
    with zipfile.ZipFile(tmp_path / "x.pt") as zf:
        names = zf.namelist()
        assert names[0] == "x/data.pkl" and "x/version" in names and "x/byteorder" in names
        for info in zf.infolist():
            n, m = np.frombuffer(raw[info.header_offset + 26 : info.header_offset + 30], "<u2")
            assert (info.header_offset + 30 + n + m) % 64 == 0
    assert torch.load(tmp_path / "x.pt", weights_only=True, mmap=True)["b"].tolist() == [0, 1, 2, 3, 4]


# -- torch.save -> ember.load ---------------------------------------------------------------
def test_torch_state_dicts_to_ember(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Flatten(), torch.nn.Linear(8, 3)
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(4, 1, 4, 4)).sum().backward()
    opt.step()
    ck = {"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 3}
    torch.save(ck, tmp_path / "ck.pt")
    out = ember.load(tmp_path / "ck.pt")
    assert_same(out, ck)
    assert out["model"]["1.num_batches_tracked"].dtype is ember.int64


def test_torch_dtypes_views_and_offsets_to_ember(tmp_path):
    base = torch.arange(60, dtype=torch.float64).reshape(3, 4, 5)
    ck = {dt: torch.from_numpy(_sample(dt, (2, 5), 3)) for dt in DTYPES}
    ck.update(
        base=base,
        perm=base.permute(2, 0, 1),
        off=base[1, 2:],
        strided=base[:, ::2, 1::3],
        expanded=torch.ones(1, 3).expand(4, 3),
        scalar=torch.tensor(1.5),
        empty=torch.empty(0, 2),
        param=torch.nn.Parameter(torch.ones(2)),
        bf16_name=torch.bfloat16,
    )
    torch.save(ck, tmp_path / "t.pt")
    out = ember.load(tmp_path / "t.pt")
    for k, v in ck.items():
        if k != "bf16_name":
            assert_same(out[k], v)
    assert isinstance(out["param"], ember.nn.Parameter)
    assert repr(out["bf16_name"]) == "torch.bfloat16"
    assert np.shares_memory(_np(out["base"]), _np(out["strided"]))
    assert _np(out["perm"]).strides == tuple(8 * s for s in base.permute(2, 0, 1).stride())


def test_torch_legacy_format_to_ember_and_back(tmp_path):
    x = torch.arange(10, dtype=torch.int16)
    torch.save(
        {"x": x, "v": x[3:7], "f": torch.ones(2, 2)},
        tmp_path / "old.pt",
        _use_new_zipfile_serialization=False,
    )
    out = ember.load(tmp_path / "old.pt")
    assert out["x"].tolist() == list(range(10)) and out["v"].tolist() == [3, 4, 5, 6]
    assert out["f"].dtype is ember.float32 and np.shares_memory(_np(out["x"]), _np(out["v"]))
    ember.save(out, tmp_path / "new.pt", _use_new_zipfile_serialization=False)
    back = torch.load(tmp_path / "new.pt", weights_only=True)
    assert back["v"].tolist() == [3, 4, 5, 6] and back["x"].dtype is torch.int16


def test_bfloat16_storage_is_a_clear_error(tmp_path):
    torch.save({"w": torch.ones(2, dtype=torch.bfloat16)}, tmp_path / "b.pt")
    with pytest.raises(RuntimeError, match="BFloat16Storage"):
        ember.load(tmp_path / "b.pt")


# -- ember -> ember ---------------------------------------------------------------------------
def test_round_trip_paths_and_file_objects(tmp_path):
    a = ember.from_numpy(_sample("float32", (3, 4)))
    obj = {
        "a": a,
        "at": a.transpose(0, 1),
        "i": ember.tensor([1, 2, 3]),
        "d": ember.device("cpu"),
        "s": ember.Size([2, 3]),
        "nested": [{"x": (a[0], 1.5)}],
    }
    buf = io.BytesIO()
    ember.save(obj, buf)
    buf.seek(0)
    for out in (ember.load(buf), _via_path(obj, tmp_path / "r.pt"), _via_path(obj, str(tmp_path / "s"))):
        np.testing.assert_array_equal(_np(out["at"]), _np(a).T)
        assert out["i"].dtype is ember.int64 and out["d"] == ember.device("cpu")
        assert isinstance(out["s"], ember.Size) and out["s"] == (2, 3)
        np.testing.assert_array_equal(_np(out["nested"][0]["x"][0]), _np(a)[0])
        assert np.shares_memory(_np(out["a"]), _np(out["at"]))


def _via_path(obj, path):
    ember.save(obj, path)
    return ember.load(path)


def test_trusted_pickle_with_weights_only_false(tmp_path):
    obj = {"w": ember.ones(2), "when": Path("/x")}
    ember.save(obj, tmp_path / "p.pt")
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global: GLOBAL pathlib.PosixPath"):
        ember.load(tmp_path / "p.pt")
    out = ember.load(tmp_path / "p.pt", weights_only=False)
    assert out["when"] == Path("/x") and out["w"].tolist() == [1.0, 1.0]


# -- safety -----------------------------------------------------------------------------------
class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _zip_with_pickle(payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


@pytest.mark.parametrize("wrap", ["raw", "zip"])
def test_malicious_pickle_is_refused(tmp_path, wrap):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"w": _Evil(marker)}, protocol=2)
    data = payload if wrap == "raw" else _zip_with_pickle(payload)
    (tmp_path / "evil.pt").write_bytes(data)
    with pytest.raises(pickle.UnpicklingError, match=r"Weights only load failed.*GLOBAL (posix|os)\.system"):
        ember.load(tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError, match="GLOBAL os.system"):
        ember.load(io.BytesIO(b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85R."))
    assert not marker.exists()


def test_weights_only_refuses_reduce_of_allowed_but_untrusted_names(tmp_path):
    # builtins.eval / getattr are not on the allow-list even though builtins.set is
    for name in (b"eval", b"getattr", b"__import__"):
        with pytest.raises(pickle.UnpicklingError, match="Unsupported global"):
            ember.load(io.BytesIO(_zip_with_pickle(b"\x80\x02c__builtin__\n" + name + b"\n)R.")))


# -- atomic writes ----------------------------------------------------------------------------
class _Boom:
    def __reduce__(self):
        raise ValueError("boom while pickling")


def test_failed_save_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    ember.save({"v": ember.tensor([1.0])}, path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="boom"):
        ember.save({"v": ember.ones(1000), "bad": _Boom()}, path)
    assert path.read_bytes() == before

    def failing_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)  # fails after the data was written
    with pytest.raises(OSError, match="disk full"):
        ember.save({"v": ember.ones(1000)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck.pt"]
    assert ember.load(path)["v"].tolist() == [1.0]


def test_save_errors_and_symlinks(tmp_path):
    with pytest.raises(RuntimeError, match="Parent directory"):
        ember.save({}, tmp_path / "missing" / "x.pt")
    real = tmp_path / "real.pt"
    ember.save({"a": 1}, real)
    (tmp_path / "link.pt").symlink_to(real)
    ember.save({"a": 2}, tmp_path / "link.pt")
    assert (tmp_path / "link.pt").is_symlink() and ember.load(real) == {"a": 2}


# -- corrupt files ----------------------------------------------------------------------------
def _ckpt_bytes() -> bytes:
    buf = io.BytesIO()
    torch.save({"w": torch.arange(100.0), "b": torch.ones(3, dtype=torch.int64)}, buf)
    return buf.getvalue()


def test_truncated_and_garbage_files_give_clear_errors(tmp_path):
    data = _ckpt_bytes()
    cuts = [1, 10, 100, len(data) // 3, len(data) // 2, len(data) - 200, len(data) - 22, len(data) - 1]
    for cut in cuts:
        with pytest.raises((RuntimeError, pickle.UnpicklingError)):
            ember.load(io.BytesIO(data[:cut]))
    rng = np.random.default_rng(0)
    for _ in range(5):
        with pytest.raises((RuntimeError, pickle.UnpicklingError)):
            ember.load(io.BytesIO(rng.bytes(300)))
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(RuntimeError, match="empty"):
        ember.load(tmp_path / "empty.pt")


def test_flipped_data_byte_fails_crc():
    data = bytearray(_ckpt_bytes())
    i = bytes(data).index(np.arange(100.0, dtype="<f4").tobytes())
    data[i + 40] ^= 0xFF
    with pytest.raises(RuntimeError, match="corrupt"):
        ember.load(io.BytesIO(bytes(data)))


def _rewrite(data: bytes, edit) -> io.BytesIO:
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for info in src.infolist():
            content = edit(info.filename, src.read(info))
            if content is not None:
                zf.writestr(info.filename, content)
    out.seek(0)
    return out


def test_missing_or_short_data_records():
    data = _ckpt_bytes()
    with pytest.raises(RuntimeError, match="missing the data record 'archive/data/0'"):
        ember.load(_rewrite(data, lambda n, c: None if n.endswith("data/0") else c))
    with pytest.raises(RuntimeError, match="holds 396 bytes, expected 400"):
        ember.load(_rewrite(data, lambda n, c: c[:-4] if n.endswith("data/0") else c))
    with pytest.raises(RuntimeError, match="no '<name>/data.pkl'"):
        ember.load(_rewrite(data, lambda n, c: None if n.endswith("data.pkl") else c))


def test_tensor_geometry_outside_its_storage_is_refused():
    buf = io.BytesIO()
    torch.save({"b": torch.ones(3)}, buf)

    def grow(name, content):  # size (3,) -> (30,) over the same 3-element storage
        if name.endswith("data.pkl"):
            assert content.count(b"K\x03\x85") == 1
            return content.replace(b"K\x03\x85", b"K\x1e\x85")
        return content

    with pytest.raises(RuntimeError, match="needs 30 elements but its storage holds only 3"):
        ember.load(_rewrite(buf.getvalue(), grow))


# -- map_location -----------------------------------------------------------------------------
def test_map_location_variants(tmp_path):
    ember.save({"a": ember.ones(2)}, tmp_path / "m.pt")
    seen = []

    def fn(storage, loc):
        seen.append(loc)
        return storage

    for ml in ("cpu", ember.device("cpu"), {"cpu": "cpu"}, fn, lambda s, loc: None):
        assert ember.load(tmp_path / "m.pt", map_location=ml)["a"].tolist() == [1.0, 1.0]
    assert seen == ["cpu"]
    if not ember.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            ember.load(tmp_path / "m.pt", map_location="cuda")
        with pytest.raises(RuntimeError, match="map_location"):
            ember.load(tmp_path / "m.pt", map_location={"cpu": "cuda:0"})


def test_cuda_location_maps_to_cpu():
    buf = io.BytesIO()
    ember.save({"a": ember.ones(2)}, buf)

    def to_cuda(name, content):  # the same checkpoint as if written from a GPU
        if name.endswith("data.pkl"):
            return content.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
        return content

    data = _rewrite(buf.getvalue(), to_cuda)
    out = ember.load(data, map_location="cpu")
    assert out["a"].device == ember.device("cpu") and out["a"].tolist() == [1.0, 1.0]
    data.seek(0)
    out = ember.load(data, map_location={"cuda:0": "cpu"})
    assert out["a"].tolist() == [1.0, 1.0]
    if not ember.cuda.is_available():
        data.seek(0)
        with pytest.raises(RuntimeError, match="map_location=ember.device"):
            ember.load(data)


# -- property: random views through torch -----------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(
    dt=st.sampled_from(DTYPES),
    rows=st.integers(1, 5),
    cols=st.integers(1, 5),
    start=st.integers(0, 3),
    step=st.integers(1, 3),
    transpose=st.booleans(),
)
def test_random_views_survive_torch_round_trip(dt, rows, cols, start, step, transpose):
    base = ember.from_numpy(_sample(dt, (rows + 3, cols), rows * cols))
    view = base[start::step]
    if transpose:
        view = view.transpose(0, 1)
    buf = io.BytesIO()
    ember.save([base, view], buf)
    buf.seek(0)
    tb, tv = torch.load(buf, weights_only=True)
    np.testing.assert_array_equal(tv.numpy(), _np(view))
    assert tv.untyped_storage().data_ptr() == tb.untyped_storage().data_ptr()
    buf2 = io.BytesIO()
    torch.save([tb, tv], buf2)
    buf2.seek(0)
    eb, ev = ember.load(buf2)
    np.testing.assert_array_equal(_np(ev), _np(view))
    assert np.shares_memory(_np(eb), _np(ev)) or ev.numel() == 0


class _WriteOnly:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, b) -> int:
        self.chunks.append(bytes(b))
        return len(b)


class _ReadOnly:
    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._f.read(n)


def test_unseekable_streams_and_mmap(tmp_path):
    sink = _WriteOnly()
    ember.save({"a": ember.arange(4)}, sink)
    data = b"".join(sink.chunks)
    assert torch.load(io.BytesIO(data), weights_only=True)["a"].tolist() == [0, 1, 2, 3]
    assert ember.load(_ReadOnly(data))["a"].tolist() == [0, 1, 2, 3]
    path = tmp_path / "m.pt"
    path.write_bytes(data)
    out = ember.load(path, mmap=True)
    out["a"][0] = 9  # copy-on-write: the file is untouched
    assert out["a"].tolist() == [9, 1, 2, 3] and path.read_bytes() == data
    with pytest.raises(ValueError, match="mmap"):
        ember.load(io.BytesIO(data), mmap=True)


def test_whole_module_needs_weights_only_false():
    model = ember.nn.Sequential(ember.nn.Linear(3, 2))
    buf = io.BytesIO()
    ember.save(model, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global: GLOBAL ember.nn"):
        ember.load(buf)
    buf.seek(0)
    loaded = ember.load(buf, weights_only=False)
    assert isinstance(loaded[0].weight, ember.nn.Parameter)
    np.testing.assert_array_equal(_np(loaded[0].weight), _np(model[0].weight))
