"""Small real Fashion-MNIST sample for the seed-replay and training-parity tests.

Reads the IDX files with gzip + NumPy directly (independent of ``ember.vision``) from the subset
bundled with ember (2,000 train / 500 test, class balanced), falling back to the project's full
copy in ``../shared/data/fashion-mnist`` (first N images in file order).
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parents[1]
_CANDIDATES = (
    _ROOT / "ember" / "vision" / "data" / "FashionMNIST" / "raw",
    _ROOT.parent / "shared" / "data" / "fashion-mnist",
)


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    assert raw[:2] == b"\x00\x00" and raw[2] == 0x08, f"not a uint8 IDX file: {path}"
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _data_dir() -> Path:
    for d in _CANDIDATES:
        if (d / "train-images-idx3-ubyte.gz").exists() and (d / "t10k-labels-idx1-ubyte.gz").exists():
            return d
    raise FileNotFoundError(f"no Fashion-MNIST IDX files in any of {[str(c) for c in _CANDIDATES]}")


@functools.cache
def fashion_mnist(n_train: int = 2000, n_test: int = 500):
    """(train_x, train_y, test_x, test_y): float32 images in [0, 1] shaped (N, 1, 28, 28) and
    int64 labels, as NumPy arrays (read-only; copy before handing them to a framework)."""
    d = _data_dir()
    out = []
    for split, n in (("train", n_train), ("t10k", n_test)):
        x = _read_idx(d / f"{split}-images-idx3-ubyte.gz")[:n]
        y = _read_idx(d / f"{split}-labels-idx1-ubyte.gz")[:n]
        assert len(x) == n and len(y) == n, f"only {len(x)} {split} images available, need {n}"
        xs = (x.astype(np.float32) / np.float32(255.0)).reshape(n, 1, 28, 28)
        xs.flags.writeable = False
        ys = y.astype(np.int64)
        ys.flags.writeable = False
        out += [xs, ys]
    return tuple(out)
