"""``ember train``'s choice of Fashion-MNIST: --data, a full local copy, a checksummed download into ./data
(a local http.server plays the mirror), or the bundled subset with a one-line notice when offline."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import socket
import threading

import numpy as np
import pytest

from ember.cli import train
from ember.vision.datasets import FashionMNIST, bundled_root, write_idx


def _fake_full(folder, n=(12, 6)):
    rng = np.random.default_rng(0)
    os.makedirs(folder, exist_ok=True)
    for prefix, k in zip(("train", "t10k"), n):
        write_idx(
            os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"),
            rng.integers(0, 256, (k, 28, 28), dtype=np.uint8),
        )
        write_idx(
            os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), rng.integers(0, 10, k, dtype=np.uint8)
        )


@pytest.fixture
def only_tutorial_root(monkeypatch, tmp_path):
    """Run in an empty directory, with no shared copy of the data to find."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMBER_DATA", raising=False)
    monkeypatch.setattr(train, "_full_fashion_candidates", lambda: [train.TUTORIAL_ROOT])


def test_explicit_and_bundled(tmp_path):
    assert train._fashion_root("bundled") == bundled_root()
    assert train._fashion_root(str(tmp_path)) == str(tmp_path)


def test_full_copy_from_ember_data(monkeypatch, tmp_path):
    _fake_full(tmp_path / "fm")
    monkeypatch.setenv("EMBER_DATA", str(tmp_path / "fm"))
    assert train._fashion_root(None) == str(tmp_path / "fm")
    x, y = train._fashion_data(str(tmp_path / "fm"), True, None)
    assert tuple(x.shape) == (12, 1, 28, 28) and len(y) == 12


def test_offline_falls_back_with_one_line_notice(only_tutorial_root, monkeypatch, tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(FashionMNIST, "mirrors", [f"http://127.0.0.1:{port}/"])
    assert train._fashion_root(None) == bundled_root()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "using the bundled 2,000-image subset" in err[0]
    assert not (tmp_path / "data").exists()  # a failed download leaves nothing behind


def test_download_into_the_tutorial_root(only_tutorial_root, monkeypatch, tmp_path):
    srv = tmp_path / "srv"
    _fake_full(srv)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(srv))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        names = [n for n, _ in FashionMNIST.resources]
        monkeypatch.setattr(FashionMNIST, "mirrors", [f"http://127.0.0.1:{server.server_address[1]}/"])
        monkeypatch.setattr(
            FashionMNIST, "resources", [(n, hashlib.md5((srv / n).read_bytes()).hexdigest()) for n in names]
        )
        assert train._fashion_root(None) == "data"
        assert sorted(os.listdir(tmp_path / "data" / "FashionMNIST" / "raw")) == sorted(names)
        assert len(FashionMNIST("data", train=True)) == 12
    finally:
        server.shutdown()
        server.server_close()
