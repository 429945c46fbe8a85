"""ember.utils.tensorboard.SummaryWriter vs torch.utils.tensorboard.SummaryWriter: both logs are
read back with tensorboard's own EventAccumulator and compared."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("tensorboard")
torch = pytest.importorskip("torch")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

import ember  # noqa: E402
from ember.graph import node as function  # noqa: E402
from ember.utils.tensorboard import SummaryWriter  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.trace:DeprecationWarning")  # torch's add_graph


def _load(path) -> EventAccumulator:
    acc = EventAccumulator(
        str(path), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0}
    )
    acc.Reload()
    return acc


def _both(tmp_path, log):
    """Run log(writer, lib) through ember's and torch's writers; return both accumulators."""
    for name, cls, lib in (("ember", SummaryWriter, ember), ("torch", TorchWriter, torch)):
        with cls(str(tmp_path / name)) as w:
            log(w, lib)
    return _load(tmp_path / "ember"), _load(tmp_path / "torch")


# -- seed 000 / 002 examples ---------------------------------------------------------------------
def test_seed_scalars_match_torch(tmp_path):
    rng = np.random.default_rng(0)
    vals = rng.random((100, 4))
    tags = ["Loss/train", "Loss/test", "Accuracy/train", "Accuracy/test"]

    def log(w, lib):
        for n_iter in range(100):
            for tag, v in zip(tags, vals[n_iter]):
                w.add_scalar(tag, v, n_iter)

    e, t = _both(tmp_path, log)
    assert sorted(e.Tags()["scalars"]) == sorted(t.Tags()["scalars"]) == sorted(tags)
    for tag in tags:
        es, ts = e.Scalars(tag), t.Scalars(tag)
        assert [s.step for s in es] == [s.step for s in ts] == list(range(100))
        assert [s.value for s in es] == [s.value for s in ts]
        np.testing.assert_allclose([s.value for s in es], vals[:, tags.index(tag)], rtol=1e-6)


def test_scalar_from_tensor_and_rejects_vectors(tmp_path):
    def log(w, lib):
        w.add_scalar("t", lib.tensor(2.5), 3)
        w.add_scalar("n", np.float32(1.25), 4)
        w.add_scalar("new", 0.5, 5, new_style=True)

    e, t = _both(tmp_path, log)
    assert [(s.step, s.value) for s in e.Scalars("t")] == [(3, 2.5)]
    assert [(s.step, s.value) for s in e.Scalars("n")] == [(4, 1.25)]
    assert e.Tensors("new")[0].tensor_proto == t.Tensors("new")[0].tensor_proto
    with SummaryWriter(str(tmp_path / "bad")) as w, pytest.raises(AssertionError, match="one element"):
        w.add_scalar("v", ember.tensor([1.0, 2.0]), 0)


def _hist_fields(h):
    return (h.min, h.max, h.num, h.sum, h.sum_squares, list(h.bucket_limit), list(h.bucket))


def test_seed_histogram_buckets_match_torch(tmp_path):
    x = np.random.default_rng(1).random(1000)

    def log(w, lib):
        for i in range(10):
            w.add_histogram("distribution centers", x + i, i)
        w.add_histogram("tensor32", lib.tensor(x.astype(np.float32)) * 3 - 1, 0)
        w.add_histogram("fd", x, 0, bins="fd")
        w.add_histogram("max_bins", x, 0, bins=50, max_bins=7)

    e, t = _both(tmp_path, log)
    assert sorted(e.Tags()["histograms"]) == sorted(t.Tags()["histograms"])
    for tag in t.Tags()["histograms"]:
        eh, th = e.Histograms(tag), t.Histograms(tag)
        assert [h.step for h in eh] == [h.step for h in th]
        for a, b in zip(eh, th):
            assert _hist_fields(a.histogram_value) == _hist_fields(b.histogram_value)
    assert sum(e.Histograms("distribution centers")[0].histogram_value.bucket) == 1000


def test_histogram_raw_and_errors(tmp_path):
    def log(w, lib):
        w.add_histogram_raw("raw", 0.0, 3.0, 6, 9.0, 17.0, [1.0, 2.0, 3.0], [1, 2, 3], global_step=2)

    e, t = _both(tmp_path, log)
    assert _hist_fields(e.Histograms("raw")[0].histogram_value) == _hist_fields(
        t.Histograms("raw")[0].histogram_value
    )
    with SummaryWriter(str(tmp_path / "bad")) as w:
        with pytest.raises(ValueError, match="bucket_limits"):
            w.add_histogram_raw("raw", 0, 1, 1, 1, 1, [1.0, 2.0], [1], 0)
        with pytest.raises(ValueError, match="no element"):
            w.add_histogram("empty", np.zeros(0), 0)


# -- images, figures, text, hparams, pr curves ------------------------------------------------------
def _pixels(img) -> np.ndarray:
    from PIL import Image  # test-only: decode both libraries' PNGs the same way

    return np.asarray(Image.open(io.BytesIO(img.encoded_image_string)))


def test_images_match_torch(tmp_path):
    rng = np.random.default_rng(2)
    chw = rng.random((3, 5, 7)).astype(np.float32)
    gray = rng.random((6, 4)).astype(np.float32)
    batch = rng.random((10, 1, 4, 3)).astype(np.float32)
    u8 = (rng.random((5, 7, 4)) * 255).astype(np.uint8)

    def log(w, lib):
        w.add_image("chw", lib.tensor(chw) * 1.5 - 0.2, 0)
        w.add_image("hwc", chw.transpose(1, 2, 0), 1, dataformats="HWC")
        w.add_image("hw", lib.tensor(gray), 2, dataformats="HW")
        w.add_image("rgba", u8, 3, dataformats="HWC")
        w.add_images("batch", lib.tensor(batch), 4)

    e, t = _both(tmp_path, log)
    assert sorted(e.Tags()["images"]) == sorted(t.Tags()["images"])
    for tag in t.Tags()["images"]:
        a, b = e.Images(tag)[0], t.Images(tag)[0]
        assert (a.step, a.width, a.height) == (b.step, b.width, b.height)
        np.testing.assert_array_equal(_pixels(a), _pixels(b))
    assert _pixels(e.Images("batch")[0]).shape == (8, 24, 3)  # 10 images, 8 per row


def test_add_figure(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def log(w, lib):
        fig = plt.figure(figsize=(2, 1.5), dpi=50)
        plt.plot([0, 1, 2], [0, 1, 0])
        w.add_figure("fig", fig, 0)

    e, t = _both(tmp_path, log)
    np.testing.assert_array_equal(_pixels(e.Images("fig")[0]), _pixels(t.Images("fig")[0]))
    assert _pixels(e.Images("fig")[0]).shape == (75, 100, 3)


def test_text_hparams_pr_curve_match_torch(tmp_path):
    rng = np.random.default_rng(3)
    labels, preds = rng.integers(0, 2, 100), rng.random(100)

    def log(w, lib):
        w.add_text("note", "hello **ember**", 1)
        w.add_pr_curve("pr", labels, preds, 2)
        w.add_hparams({"lr": 0.1, "bsize": 4, "opt": "sgd", "nesterov": True}, {"hp/acc": 0.75}, run_name="h")

    e, t = _both(tmp_path, log)
    assert sorted(e.Tags()["tensors"]) == sorted(t.Tags()["tensors"])
    for tag in t.Tags()["tensors"]:
        assert e.Tensors(tag)[0].tensor_proto == t.Tensors(tag)[0].tensor_proto
        assert e.SummaryMetadata(tag) == t.SummaryMetadata(tag)
    eh, th = _load(tmp_path / "ember" / "h"), _load(tmp_path / "torch" / "h")
    assert eh.Tags()["tensors"] == th.Tags()["tensors"]
    for tag in th.Tags()["tensors"]:
        assert eh.SummaryMetadata(tag) == th.SummaryMetadata(tag)
    assert [s.value for s in eh.Scalars("hp/acc")] == [0.75]


def test_add_scalars_layout_matches_torch(tmp_path):
    def log(w, lib):
        for i in range(3):
            w.add_scalars("run/14h", {"xsinx": i * np.sin(i), "xcosx": i * np.cos(i)}, i)

    _both(tmp_path, log)
    subdirs = [sorted(p.name for p in (tmp_path / n).iterdir() if p.is_dir()) for n in ("ember", "torch")]
    assert subdirs[0] == subdirs[1] == ["run_14h_xcosx", "run_14h_xsinx"]
    for sub in ("run_14h_xsinx", "run_14h_xcosx"):
        e, t = _load(tmp_path / "ember" / sub), _load(tmp_path / "torch" / sub)
        assert [(s.step, s.value) for s in e.Scalars("run/14h")] == [
            (s.step, s.value) for s in t.Scalars("run/14h")
        ]


def test_purge_step_matches_torch(tmp_path):
    def log(w, lib):
        for i in range(10):
            w.add_scalar("x", i, i)

    for cls, name in ((SummaryWriter, "ember"), (TorchWriter, "torch")):
        with cls(str(tmp_path / name)) as w:
            log(w, None)
        with cls(str(tmp_path / name), purge_step=5) as w:
            w.add_scalar("x", 50, 5)
    e, t = _load(tmp_path / "ember"), _load(tmp_path / "torch")
    assert [(s.step, s.value) for s in e.Scalars("x")] == [(s.step, s.value) for s in t.Scalars("x")]
    assert [s.step for s in e.Scalars("x")] == [0, 1, 2, 3, 4, 5]


# -- writer lifetime --------------------------------------------------------------------------------
def test_default_logdir_like_torch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1")
    tw = TorchWriter(comment="_lr0.1")
    w.close(), tw.close()
    assert w.get_logdir().startswith("runs" + os.sep) and w.get_logdir().endswith("_lr0.1")
    assert len(w.get_logdir()) == len(tw.get_logdir())
    assert os.path.isdir(w.get_logdir())


def test_close_twice_and_reopen_after_close(tmp_path):
    w = SummaryWriter(str(tmp_path))
    w.add_scalar("a", 1.0, 0)
    w.close()
    w.close()
    w.add_scalar("a", 2.0, 1)  # a new event file, as torch
    w.flush()
    assert [s.value for s in _load(tmp_path).Scalars("a")] == [1.0, 2.0]
    w.close()


def _run(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_flush_at_exit_without_close(tmp_path):
    r = _run(
        """
        from ember.utils.tensorboard import SummaryWriter
        w = SummaryWriter("log")  # flush_secs=120: nothing would reach the disk before exit
        for i in range(100):
            w.add_scalar("Loss/train", i * 0.5, i)
        w.add_histogram("h", [1.0, 2.0, 3.0], 7)
        """,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    acc = _load(tmp_path / "log")
    assert [s.step for s in acc.Scalars("Loss/train")] == list(range(100))
    assert [h.step for h in acc.Histograms("h")] == [7]


def test_missing_tensorboard_gives_clear_import_error(tmp_path):
    r = _run(
        """
        import sys
        sys.modules["tensorboard"] = None  # simulates `pip uninstall tensorboard`
        from ember.utils.tensorboard import SummaryWriter  # importing the module still works
        try:
            SummaryWriter("log")
        except ImportError as e:
            print("ERR", e)
        """,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "ERR" in r.stdout and "pip install tensorboard" in r.stdout and "ember[tensorboard]" in r.stdout
    assert not (tmp_path / "log").exists()


# -- graphs -----------------------------------------------------------------------------------------
def _lenet(lib):
    nn, F = lib.nn, lib.nn.functional

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 4 * 4, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = x.view(-1, 16 * 4 * 4)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)

    return LeNet()


def _scope(name: str) -> str:
    return name.rsplit("/", 1)[0]


def _module_outputs(gd) -> dict:
    """Per module scope, the output shape of its last aten op."""
    out = {}
    for n in gd.node:
        if n.op.startswith("aten::"):
            out[_scope(n.name)] = [d.size for d in n.attr["_output_shapes"].list.shape[0].dim]
    return out


def _graph_of(tmp_path, name, cls, model, x):
    with cls(str(tmp_path / name)) as w:
        w.add_graph(model, x)
    acc = _load(tmp_path / name)
    assert acc.RunMetadata("step1").step_stats.dev_stats[0].device == "/device:CPU:0"
    return acc.Graph()


def test_lenet_graph_like_torch(tmp_path):
    x = np.zeros((2, 1, 28, 28), np.float32)
    eg = _graph_of(tmp_path, "ember", SummaryWriter, _lenet(ember), ember.tensor(x))
    tg = _graph_of(tmp_path, "torch", TorchWriter, _lenet(torch), torch.tensor(x))
    assert _module_outputs(eg) == _module_outputs(tg)  # same scopes, same shapes leaving each
    kinds = {n.op for n in eg.node}
    assert {"aten::relu", "aten::view", "aten::_convolution", "aten::linear", "IO Node"} <= kinds
    assert {"aten::max_pool2d"} <= kinds
    names = {n.name for n in eg.node}
    assert "output/output.1" in names and "input/x" in names
    assert {"LeNet/Conv2d[conv1]/weight", "LeNet/Linear[fc3]/bias"} <= names
    for n in eg.node:  # every edge points at a node of the graph
        assert set(n.input) <= names


def test_mlp_graph_scopes_and_tracer_restored(tmp_path):
    def mlp(lib):
        return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2))

    x = np.ones((5, 3), np.float32)
    eg = _graph_of(tmp_path, "ember", SummaryWriter, mlp(ember), ember.tensor(x))
    tg = _graph_of(tmp_path, "torch", TorchWriter, mlp(torch), torch.tensor(x))
    assert _module_outputs(eg) == _module_outputs(tg)
    assert function.tracer[0] is None

    class Boom(ember.nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    model = Boom()
    with SummaryWriter(str(tmp_path / "boom")) as w, pytest.raises(RuntimeError, match="boom"):
        w.add_graph(model, ember.tensor(x))
    assert function.tracer[0] is None and model.training


def test_graph_recorder_without_nn(tmp_path):
    """A plain callable with hand-made scopes: edges, shapes and op kinds from the recorder alone."""

    class Tiny:
        training = True

        def __init__(self):
            self.w = ember.ones(3, 2, requires_grad=True)

        def named_parameters(self):
            return [("w", self.w)]

        def train(self, mode=True):
            self.training = mode

        def forward(self, x):
            return (x @ self.w).relu()

        def __call__(self, x):
            assert not self.training and function.tracer[0] is not None
            function.tracer[0].push_scope(self)
            try:
                return self.forward(x)
            finally:
                function.tracer[0].pop_scope(self)

    model = Tiny()
    with SummaryWriter(str(tmp_path)) as w:
        w.add_graph(model, ember.ones(4, 3))
    gd = _load(tmp_path).Graph()
    by = {n.name: n for n in gd.node}
    assert by["input/x"].op == "IO Node" and by["Tiny/w"].op == "prim::GetAttr"
    mm = [n for n in gd.node if n.op == "aten::matmul"][0]
    relu = [n for n in gd.node if n.op == "aten::relu"][0]
    assert list(mm.input) == ["input/x", "Tiny/w"] and list(relu.input) == [mm.name]
    assert list(by["output/output.1"].input) == [relu.name]
    assert [d.size for d in relu.attr["_output_shapes"].list.shape[0].dim] == [4, 2]
    assert model.training and function.tracer[0] is None


def _nested(lib):
    nn = lib.nn

    class Inner(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(lib.ones(3, 2))

        def forward(self, x):
            return x @ self.w

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = Inner()

        def forward(self, x):
            return self.block(x).relu()

    return Outer()


def test_nested_module_scopes_like_torch(tmp_path):
    x = np.ones((4, 3), np.float32)
    eg = _graph_of(tmp_path, "ember", SummaryWriter, _nested(ember), ember.tensor(x))
    tg = _graph_of(tmp_path, "torch", TorchWriter, _nested(torch), torch.tensor(x))
    assert _module_outputs(eg) == _module_outputs(tg) == {"Outer/Inner[block]": [4, 2], "Outer": [4, 2]}
    by = {n.name: n for n in eg.node}
    assert by["Outer/Inner[block]/w"].op == "prim::GetAttr"
    assert {n.op for n in eg.node if n.op.startswith("aten::")} == {"aten::matmul", "aten::relu"}
    assert function.tracer[0] is None


def test_audio_and_custom_scalars_match_torch(tmp_path):
    wave = np.sin(np.linspace(0, 20, 800)) * 1.2  # clipped to [-1, 1] by both

    def log(w, lib):
        w.add_audio("snd", lib.tensor(wave.astype(np.float32)), 1, sample_rate=8000)
        w.add_custom_scalars({"Loss": {"both": ["Multiline", ["Loss/train", "Loss/test"]]}})
        w.add_custom_scalars_marginchart(["a", "lo", "hi"], category="c", title="m")

    e, t = _both(tmp_path, log)
    a, b = e.Audio("snd")[0], t.Audio("snd")[0]
    assert (a.step, a.encoded_audio_string, a.sample_rate) == (b.step, b.encoded_audio_string, b.sample_rate)
    assert e.Tensors("custom_scalars__config__") and [
        x.tensor_proto for x in e.Tensors("custom_scalars__config__")
    ] == [x.tensor_proto for x in t.Tensors("custom_scalars__config__")]
