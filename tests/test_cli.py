"""The ``ember`` command end to end on tiny settings: exit codes, messages, files, checkpoints, resume."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember.cli import main
from ember.vision.datasets import write_idx

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path) -> np.ndarray:
    import matplotlib.image as mpimg

    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50
    assert img.std() > 0  # something was drawn
    return img


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ember.cli", *args], capture_output=True, text=True, timeout=120
    )


# ---------------------------------------------------------------- the command itself


def test_help_everywhere(capsys):
    assert main(["--help"]) == 0
    assert "train" in capsys.readouterr().out
    for sub in ("train", "optim", "gradients", "info"):
        assert main([sub, "--help"]) == 0
        assert "usage: ember " + sub in capsys.readouterr().out


def test_bad_subcommand_and_missing_subcommand():
    r = run_cli("bogus")
    assert r.returncode == 2
    assert "invalid choice: 'bogus'" in r.stderr and r.stdout == ""
    r = run_cli()
    assert r.returncode == 2 and "a subcommand is required" in r.stderr
    r = run_cli("train", "resnet")
    assert r.returncode == 2 and "invalid choice: 'resnet'" in r.stderr


def test_console_script_installed():
    import shutil

    exe = shutil.which("ember")
    if exe is None:
        pytest.skip("the package is not installed with its console script here")
    r = subprocess.run([exe, "info"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "numpy" in r.stdout


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^ember\s+" + re.escape(ember.__version__), out, re.M)
    assert re.search(r"^numpy\s+" + re.escape(np.__version__), out, re.M)
    assert re.search(r"^BLAS\s+\S", out, re.M) and re.search(r"^threads\s+\d+ CPUs", out, re.M)
    assert re.search(r"^cuda\s+(not available|available)", out, re.M)


# ---------------------------------------------------------------- train


def test_train_linreg_learns_the_notes_weights_and_resumes(tmp_path, capsys):
    out = tmp_path / "lin"
    assert (
        main(["train", "linreg", "--epochs", "2", "--out", str(out), "--no-progress", "--no-tensorboard"])
        == 0
    )
    stdout = capsys.readouterr().out
    assert len(re.findall(r"^epoch \d/2  train loss", stdout, re.M)) == 2
    w1, w2, b = map(float, re.search(r"learned w = \[(\S+), (\S+)\], b = (\S+)", stdout).groups())
    assert abs(w1 - 2) < 0.02 and abs(w2 + 3.4) < 0.02 and abs(b - 4.2) < 0.02
    assert_png(out / "curves.png")
    ckpt = ember.load(str(out / "checkpoint.pt"))
    assert ckpt["epoch"] == 2 and ckpt["global_step"] == 200  # 1000 samples / batch 10, twice
    assert set(ckpt["model"]) == {"0.weight", "0.bias"} and "state" in ckpt["optimizer"]
    np.testing.assert_allclose(ckpt["model"]["0.weight"].numpy().ravel(), [w1, w2], atol=1e-4)

    args = [
        "train",
        "linreg",
        "--epochs",
        "3",
        "--out",
        str(out),
        "--no-progress",
        "--no-tensorboard",
        "--resume",
    ]
    assert main(args) == 0
    stdout = capsys.readouterr().out
    assert "resumed from" in stdout and "epoch 2, step 200" in stdout
    assert re.findall(r"^epoch (\d)/3", stdout, re.M) == ["3"]  # continues, does not restart
    ckpt = ember.load(str(out / "checkpoint.pt"))
    assert ckpt["epoch"] == 3 and ckpt["global_step"] == 300 and len(ckpt["history"]["train_loss"]) == 3


def test_train_lenet_bundled_tiny_with_tensorboard(tmp_path):
    out = tmp_path / "lenet"
    r = run_cli("train", "lenet", "--epochs", "1", "--limit", "128", "--batch-size", "32", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert re.search(
        r"^epoch 1/1  train loss \d\.\d{4}  train acc \d\.\d{3}  test acc \d\.\d{3}  time", r.stdout, re.M
    )
    assert "samples/s" in r.stderr  # the tqdm bar's postfix
    assert_png(out / "curves.png")
    events = [f for f in os.listdir(out / "tensorboard") if f.startswith("events.out.tfevents")]
    assert events and os.path.getsize(out / "tensorboard" / events[0]) > 1000  # scalars, histograms, graph
    ckpt = ember.load(str(out / "checkpoint.pt"))
    assert ckpt["epoch"] == 1 and ckpt["global_step"] == 4 and ckpt["model_name"] == "lenet"
    assert ckpt["model"]["conv.0.weight"].shape == (6, 1, 5, 5)
    from ember.cli.models import build

    net = build("lenet")
    net.load_state_dict(ckpt["model"])  # the checkpoint reloads into a fresh model


def _fake_fashion(folder, n_train: int = 64, n_test: int = 32) -> None:
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.zeros((n, 28, 28), np.uint8)
        for i, c in enumerate(labels):  # class c lights up row band c: learnable in a few steps
            images[i, 2 * c + 4 : 2 * c + 6] = 255
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), images)
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), labels)


def test_train_softmax_on_a_data_dir(tmp_path, capsys):
    data = tmp_path / "fm"
    data.mkdir()
    _fake_fashion(data)
    args = ["train", "softmax", "--data", str(data), "--epochs", "3", "--batch-size", "16", "--lr", "0.5"]
    assert main([*args, "--out", str(tmp_path / "o"), "--no-progress", "--optimizer", "momentum"]) == 0
    stdout = capsys.readouterr().out
    assert "64 training samples" in stdout
    assert float(re.findall(r"test acc (\S+)", stdout)[-1]) == 1.0


def test_train_errors(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["train", "mlp", "--data", str(missing), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "ember train: error: data directory not found" in err and str(missing) in err
    (tmp_path / "empty").mkdir()
    assert main(["train", "mlp", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 1
    assert "Dataset not found" in capsys.readouterr().err
    assert main(["train", "linreg", "--resume", str(tmp_path / "none.pt"), "--out", str(tmp_path / "o")]) == 1
    assert "checkpoint not found" in capsys.readouterr().err
    assert main(["train", "linreg", "--activation", "relu", "--out", str(tmp_path / "o")]) == 1
    assert "--activation applies to mlp and lenet" in capsys.readouterr().err
    r = run_cli("train", "softmax", "--data", str(missing))
    assert r.returncode == 1 and "data directory not found" in r.stderr


# ---------------------------------------------------------------- optim


def test_optim_table_plot_and_sgd_matches_closed_form(tmp_path, capsys):
    from ember.cli.optim_demo import FUNCTIONS, optimize

    args = ["optim", "--function", "book", "--steps", "40", "--out", str(tmp_path)]
    assert main(args) == 0
    stdout = capsys.readouterr().out
    rows = re.findall(r"^book\s+(\w+)\s", stdout, re.M)
    assert rows == ["sgd", "momentum", "adagrad", "rmsprop", "adadelta", "adam"]
    assert_png(tmp_path / "optimizers.png")
    # gradient descent on 0.1 x1^2 + 2 x2^2 with lr 0.4: x1 *= 0.92 and x2 *= -0.6 per step
    path, _ = optimize(FUNCTIONS["book"], "sgd", 0.4, 40)
    k = np.arange(41)
    np.testing.assert_allclose(path[:, 0], -5 * 0.92**k, rtol=1e-9)
    np.testing.assert_allclose(path[:, 1], -2 * (-0.6) ** k, rtol=1e-9, atol=1e-12)


def test_optim_all_functions_steps_to_tolerance(tmp_path, capsys):
    assert (
        main(
            ["optim", "--steps", "60", "--optimizer", "adagrad", "--optimizer", "sgd", "--out", str(tmp_path)]
        )
        == 0
    )
    stdout = capsys.readouterr().out
    table = {(m[0], m[1]): m[2] for m in re.findall(r"^(\w+)\s+(\w+)\s+\S+\s+(\S+)", stdout, re.M)}
    assert table[("book", "sgd")] == "47" and table[("himmelblau", "sgd")].isdigit()
    assert table[("rosenbrock", "sgd")] == "-"  # the banana valley is too slow for plain SGD
    assert main(["optim", "--steps", "0", "--out", str(tmp_path)]) == 1


# ---------------------------------------------------------------- gradients


def test_gradients_study(tmp_path, capsys):
    args = ["gradients", "--depth", "10", "--width", "64", "--batch-size", "32", "--out", str(tmp_path)]
    assert (
        main(
            [
                *args,
                "--activation",
                "sigmoid",
                "--activation",
                "relu",
                "--init",
                "xavier",
                "--init",
                "kaiming",
            ]
        )
        == 0
    )
    stdout = capsys.readouterr().out
    verdicts = dict(re.findall(r"^(\w+/\w+)\s.*\s(vanishing|healthy|exploding)$", stdout, re.M))
    assert verdicts == {
        "sigmoid/xavier": "vanishing",  # sigmoid' <= 1/4 at every layer
        "sigmoid/kaiming": "vanishing",
        "relu/xavier": "healthy",
        "relu/kaiming": "healthy",
    }
    assert_png(tmp_path / "gradients.png")
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(tmp_path / "tensorboard"))


def test_gradients_normal_init_relu_explodes(tmp_path, capsys):
    args = ["gradients", "--depth", "8", "--width", "64", "--activation", "relu", "--init", "normal"]
    assert main([*args, "--out", str(tmp_path), "--no-tensorboard"]) == 0
    assert re.search(r"^relu/normal\s.*exploding$", capsys.readouterr().out, re.M)


def test_gradient_verdict_rule():
    from ember.cli.gradients import verdict

    assert verdict([1e-6, 1e-3, 1.0, 1.0]) == "vanishing"
    assert verdict([1.0, 1.0, 1.0, 1.0]) == "healthy"
    assert verdict([1e3, 10.0, 1.0, 1.0]) == "exploding"
    assert verdict([1e6, 1e6, 1e6, 1e6]) == "exploding"
    assert verdict([float("nan"), 1.0]) == "exploding"
