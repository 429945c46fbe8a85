"""ember.vision.models vs torchvision: parameter counts, state_dict keys/shapes, outputs of the same
architectures written with real torch layers (tests/vision/_torch_models.py), weights enums and the
torch.hub cache (a local http.server stands in for download.pytorch.org)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import re
import threading
import warnings

import _torch_models as T
import numpy as np
import pytest
import torch

import ember
import ember.hub
import ember.nn.init as init
import ember.vision as tv
from ember.vision import models
from ember.vision.transforms._presets import ImageClassification

# torchvision's published parameter counts (its docs and weights.meta["num_params"])
NUM_PARAMS = {
    "alexnet": 61100840, "vgg11": 132863336, "vgg11_bn": 132868840, "vgg13": 133047848, "vgg13_bn": 133053736,
    "vgg16": 138357544, "vgg16_bn": 138365992, "vgg19": 143667240, "vgg19_bn": 143678248,
    "resnet18": 11689512, "resnet34": 21797672, "resnet50": 25557032, "resnet101": 44549160,
    "resnet152": 60192808, "resnext50_32x4d": 25028904, "wide_resnet50_2": 68883240,
    "densenet121": 7978856, "densenet169": 14149480, "mobilenet_v2": 3504872,
    "mobilenet_v3_large": 5483032, "mobilenet_v3_small": 2542856, "squeezenet1_0": 1248424,
    "squeezenet1_1": 1235496, "googlenet": 6624904,
}  # fmt: skip


@pytest.fixture
def fast_init(monkeypatch):
    """Skip random initialisation, in ember and in the torch reference (the test counts the weights or
    overwrites them; torch's Linear layers get cheap small random weights instead)."""
    for name in ("kaiming_normal_", "kaiming_uniform_", "normal_", "uniform_", "trunc_normal_", "constant_"):
        monkeypatch.setattr(init, name, lambda t, *a, **k: t)

    def linear_reset(self):
        with torch.no_grad():
            self.weight.copy_(torch.rand(self.weight.shape).sub_(0.5).mul_(2 / self.weight.shape[1] ** 0.5))
            if self.bias is not None:
                self.bias.zero_()

    monkeypatch.setattr(torch.nn.Linear, "reset_parameters", linear_reset)


def _build(name: str, **kw):
    if name == "googlenet":
        kw.setdefault("init_weights", False)
    return models.get_model(name, **kw)


def test_list_models_and_get_model():
    assert models.list_models() == sorted(NUM_PARAMS)
    assert models.list_models(include="resnet*", exclude=["*101", "*152"]) == [
        "resnet18",
        "resnet34",
        "resnet50",
    ]
    assert models.list_models(module=models) == sorted(NUM_PARAMS)
    m = models.get_model("resnet18", num_classes=10)
    assert tuple(m.fc.weight.shape) == (10, 512)
    with pytest.raises(ValueError, match="Unknown model"):
        models.get_model("resnet19")
    assert models.get_model_weights("resnet50") is models.ResNet50_Weights
    assert models.get_model_weights(models.vgg16) is models.VGG16_Weights
    assert models.get_weight("ResNet50_Weights.IMAGENET1K_V2") is models.ResNet50_Weights.DEFAULT
    with pytest.raises(ValueError, match="Invalid weight name"):
        models.get_weight("ResNet50_Weights")


@pytest.mark.parametrize("name", sorted(NUM_PARAMS))
def test_num_params_and_state_dict_layout_match_torchvision(name, fast_init):
    model = _build(name, aux_logits=False) if name == "googlenet" else _build(name)
    n = sum(p.numel() for p in model.parameters())
    assert n == NUM_PARAMS[name]
    assert models.get_model_weights(name).DEFAULT.meta["num_params"] == n
    with torch.device("meta"):
        ref = T.GoogLeNet(aux=False) if name == "googlenet" else T.BUILD[name]()
    got = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    want = [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    assert got == want


def _randomize(ref: torch.nn.Module, seed: int = 0) -> None:
    """Random BN statistics and affine parameters, so eval-mode BN is not the identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def _copy(ref: torch.nn.Module, model) -> None:
    model.load_state_dict(
        {k: ember.from_numpy(v.detach().numpy().copy()) for k, v in ref.state_dict().items()}
    )


# (name, input size): small images, each above the model's min_size
FORWARD = [
    ("resnet18", 32), ("resnext50_32x4d", 32), ("alexnet", 63), ("vgg11_bn", 32),
    ("squeezenet1_0", 33), ("squeezenet1_1", 33), ("densenet121", 32), ("mobilenet_v2", 32),
    ("mobilenet_v3_small", 32), ("mobilenet_v3_large", 32), ("googlenet", 32),
]  # fmt: skip


@pytest.mark.parametrize("name,size", FORWARD)
def test_eval_outputs_match_torch_architecture(name, size, fast_init):
    torch.manual_seed(0)
    heavy = name.startswith(("vgg", "alexnet"))  # 100M-weight classifiers: compare up to the pooled features
    if heavy:
        with torch.device("meta"):
            ref = T.BUILD[name]()
        with torch.device("cpu"):
            ref.features = T.features_of(name)
    else:
        ref = T.BUILD[name]()
    ref.eval()
    _randomize(ref)
    model = _build(name).eval()
    if heavy:
        _copy(ref.features, model.features)
    else:
        _copy(ref, model)
    x = np.random.default_rng(1).standard_normal((2, 3, size, size)).astype(np.float32)
    with torch.no_grad():
        t = torch.from_numpy(x)
        want = (ref.avgpool(ref.features(t)) if heavy else ref(t)).numpy()
    with ember.no_grad():
        e = ember.from_numpy(x)
        got = model.avgpool(model.features(e)) if heavy else model(e)
    assert got.dtype == ember.float32 and tuple(got.shape) == want.shape
    scale = np.abs(want).max()
    np.testing.assert_allclose(got.numpy() / scale, want / scale, atol=2e-5)


def test_resnet18_train_step_gradients_match_torch(fast_init):
    torch.manual_seed(0)
    ref = T.BUILD["resnet18"]().train()
    model = models.resnet18().train()
    _copy(ref, model)
    x = np.random.default_rng(2).standard_normal((4, 3, 32, 32)).astype(np.float32)
    y = np.array([1, 5, 7, 999])
    loss_t = torch.nn.functional.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(y))
    loss_t.backward()
    loss_e = ember.nn.functional.cross_entropy(model(ember.from_numpy(x)), ember.from_numpy(y))
    loss_e.backward()
    np.testing.assert_allclose(loss_e.item(), loss_t.item(), rtol=1e-4)
    grads = dict(model.named_parameters())
    for k, p in ref.named_parameters():
        np.testing.assert_allclose(
            grads[k].grad.numpy(), p.grad.numpy(), atol=5e-4 * p.grad.abs().max().item() + 1e-7
        )
    bn = dict(model.named_buffers())  # batch statistics updated the running buffers as torch's
    for k, b in ref.named_buffers():
        np.testing.assert_allclose(bn[k].numpy(), b.numpy(), rtol=1e-4, atol=1e-5)


def test_googlenet_outputs_namedtuple_in_training():
    model = models.googlenet(init_weights=False).train()
    out = model(ember.randn(2, 3, 64, 64))
    assert isinstance(out, models.GoogLeNetOutputs)
    assert [tuple(o.shape) for o in out] == [(2, 1000)] * 3
    assert isinstance(model.eval()(ember.randn(1, 3, 32, 32)), ember.Tensor)
    with pytest.warns(FutureWarning, match="default weight initialization of GoogleNet"):
        models.googlenet(aux_logits=False)


def test_constructor_arguments():
    with pytest.raises(ValueError, match="Unsupported SqueezeNet version"):
        models.SqueezeNet("2_0")
    with pytest.raises(ValueError, match="BasicBlock only supports groups=1"):
        models.resnet18(groups=2)
    assert tuple(models.mobilenet_v2(width_mult=0.5).features[0][0].weight.shape) == (16, 3, 3, 3)
    assert tuple(models.resnet18(num_classes=7).fc.weight.shape) == (7, 512)
    m = models.resnet18(zero_init_residual=True)
    assert float(m.layer1[0].bn2.weight.abs().sum()) == 0.0
    with pytest.raises(TypeError, match="expected ResNet18_Weights but received ResNet34_Weights"):
        models.resnet18(weights=models.ResNet34_Weights.DEFAULT)
    with pytest.raises(ValueError, match="expected value 1000 but got 10"):
        models.resnet18(weights="DEFAULT", num_classes=10)


# ---------------------------------------------------------------- weights and the hub cache


def test_weights_enum_metadata():
    w = models.ResNet18_Weights.IMAGENET1K_V1
    assert models.ResNet18_Weights.DEFAULT is w
    assert repr(w) == "ResNet18_Weights.IMAGENET1K_V1"
    assert w.url == "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    cats = w.meta["categories"]
    assert (
        len(cats) == 1000
        and cats[0] == "tench"
        and cats[207] == "golden retriever"
        and cats[999] == "toilet tissue"
    )
    t = w.transforms()
    assert isinstance(t, ImageClassification) and t.crop_size == [224] and t.resize_size == [256]
    assert models.ResNet50_Weights.DEFAULT.transforms().resize_size == [232]
    assert models.ResNet18_Weights.verify("IMAGENET1K_V1") is w
    assert models.ResNet18_Weights.verify("ResNet18_Weights.DEFAULT") is w
    for name in NUM_PARAMS:
        enum = models.get_model_weights(name)
        assert ember.hub.HASH_REGEX.search(enum.DEFAULT.url.rsplit("/", 1)[1]) is not None


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    ckpt = tmp_path / "torch" / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    return ckpt


def test_weights_load_a_torchvision_checkpoint_from_the_cache(torch_home, fast_init):
    assert ember.hub.get_dir() == str(torch_home.parent)
    torch.manual_seed(0)
    ref = T.BUILD["resnet18"]().eval()
    _randomize(ref)
    torch.save(ref.state_dict(), torch_home / "resnet18-f37072fd.pth")
    x = np.random.default_rng(3).standard_normal((1, 3, 40, 40)).astype(np.float32)
    with torch.no_grad():
        want = ref(torch.from_numpy(x)).numpy()
    for kwargs in ({"weights": models.ResNet18_Weights.IMAGENET1K_V1}, {"weights": "DEFAULT"}):
        m = models.resnet18(**kwargs).eval()
        np.testing.assert_allclose(m(ember.from_numpy(x)).detach().numpy(), want, atol=1e-4)
    with pytest.warns(UserWarning, match="'pretrained' is deprecated"):
        m = models.resnet18(pretrained=True).eval()
    np.testing.assert_allclose(m(ember.from_numpy(x)).detach().numpy(), want, atol=1e-4)


def test_densenet_loads_old_style_checkpoint_keys(torch_home, fast_init):
    torch.manual_seed(0)
    ref = T.BUILD["densenet121"]().eval()
    old = {}
    for k, v in ref.state_dict().items():  # the 2017 file: 'norm.1' for 'norm1', no num_batches_tracked
        if k.endswith("num_batches_tracked"):
            continue
        old[re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", k)] = v
    assert any(".norm.1." in k for k in old)
    torch.save(old, torch_home / "densenet121-a639ec97.pth")
    m = models.densenet121(weights=models.DenseNet121_Weights.DEFAULT).eval()
    x = np.random.default_rng(4).standard_normal((1, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        want = ref(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(m(ember.from_numpy(x)).detach().numpy(), want, atol=1e-4)


def test_googlenet_weights_drop_the_aux_heads(torch_home, fast_init):
    ref = T.GoogLeNet(aux=True)
    torch.save(ref.state_dict(), torch_home / "googlenet-1378be20.pth")
    m = models.googlenet(weights=models.GoogLeNet_Weights.DEFAULT)
    assert m.aux1 is None and m.aux2 is None and m.transform_input is True
    ref.eval().transform_input = True
    x = np.random.default_rng(5).standard_normal((1, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        want = ref(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(m.eval()(ember.from_numpy(x)).detach().numpy(), want, atol=1e-4)


@pytest.fixture
def http_root(tmp_path):
    srv = tmp_path / "srv"
    srv.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(srv))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield srv, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_checks_the_hash_prefix(tmp_path, http_root, torch_home):
    srv, url = http_root
    payload = tmp_path / "payload.pth"
    torch.save({"w": torch.arange(6.0).reshape(2, 3)}, payload)
    digest = hashlib.sha256(payload.read_bytes()).hexdigest()
    good, bad = f"tiny-{digest[:10]}.pth", "tiny-0123abcd.pth"
    for name in (good, bad):
        (srv / name).write_bytes(payload.read_bytes())
    sd = ember.hub.load_state_dict_from_url(url + good, check_hash=True, progress=False)
    np.testing.assert_array_equal(sd["w"].numpy(), np.arange(6.0, dtype=np.float32).reshape(2, 3))
    assert (torch_home / good).is_file()
    with pytest.raises(RuntimeError, match="invalid hash value"):
        ember.hub.load_state_dict_from_url(url + bad, check_hash=True, progress=False)
    assert sorted(p.name for p in torch_home.iterdir()) == [good]  # nothing of the bad download is kept
    # without check_hash the file is taken as is; a cached file is not fetched again
    assert "w" in ember.hub.load_state_dict_from_url(url + bad, progress=False)
    (srv / bad).unlink()
    assert "w" in ember.hub.load_state_dict_from_url(url + bad, progress=False)


def test_weights_enum_downloads_into_the_torch_cache(tmp_path, http_root, torch_home, fast_init):
    srv, url = http_root
    ref = T.BUILD["squeezenet1_1"]()
    data = tmp_path / "s.pth"
    torch.save(ref.state_dict(), data)
    name = f"squeezenet1_1-{hashlib.sha256(data.read_bytes()).hexdigest()[:8]}.pth"
    (srv / name).write_bytes(data.read_bytes())
    base = models.SqueezeNet1_1_Weights.IMAGENET1K_V1.value

    class LocalWeights(models.WeightsEnum):
        V1 = models.Weights(url=url + name, transforms=base.transforms, meta=base.meta)

    m = models.SqueezeNet("1_1")
    m.load_state_dict(LocalWeights.V1.get_state_dict(progress=False, check_hash=True))
    assert (torch_home / name).is_file()
    np.testing.assert_array_equal(
        m.features[0].weight.detach().numpy(), ref.features[0].weight.detach().numpy()
    )


def test_vision_version_and_hub_dir(monkeypatch, tmp_path):
    import subprocess
    import sys

    assert isinstance(tv.__version__, str)
    code = "import ember as torch; print(torch.hub.get_dir())"  # torch.hub without importing it by name
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TORCH_HOME": str(tmp_path)},
    )
    assert out.stdout.strip() == str(tmp_path / "hub")
    monkeypatch.delenv("TORCH_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert ember.hub.get_dir() == str(tmp_path / "torch" / "hub")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        models.resnet18(weights=None)


def test_batchnorm_loads_checkpoints_without_num_batches_tracked_like_torch():
    src = torch.nn.BatchNorm2d(3)
    with torch.no_grad():
        src.running_mean.copy_(torch.tensor([1.0, 2.0, 3.0]))
    old = {k: v for k, v in src.state_dict().items() if k != "num_batches_tracked"}  # a pre-2018 file
    ref = torch.nn.BatchNorm2d(3)
    ref.num_batches_tracked.fill_(5)
    ref.load_state_dict(old)
    bn = ember.nn.BatchNorm2d(3)
    bn.num_batches_tracked.fill_(5)
    mine = {k: ember.from_numpy(v.numpy().copy()) for k, v in old.items()}
    bn.load_state_dict(mine)
    assert int(bn.num_batches_tracked) == int(ref.num_batches_tracked) == 5  # kept, not reported missing
    np.testing.assert_array_equal(bn.running_mean.numpy(), ref.running_mean.numpy())
    assert sorted(mine) == sorted(old)  # the caller's dict is not changed
    with pytest.raises(RuntimeError, match="Missing key"):
        ember.nn.BatchNorm2d(3).load_state_dict({k: v for k, v in mine.items() if k != "running_var"})
