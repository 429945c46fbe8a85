"""Benchmark workloads, written once against the torch API and run with `lib` = torch or ember.

Each workload returns a function that runs one timed unit (an iteration or an epoch)."""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np

DATA = os.environ.get(
    "EMBER_BENCH_DATA",
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "fashion-mnist"),
)


def read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fashion_mnist():
    x = read_idx(os.path.join(DATA, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    y = read_idx(os.path.join(DATA, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    return x, y


def tiny(lib):
    """(a*b+c).sum().backward() on 16 floats."""
    a = lib.randn(16, requires_grad=True)
    b = lib.randn(16, requires_grad=True)
    c = lib.randn(16, requires_grad=True)

    def step():
        (a * b + c).sum().backward()

    return step


def linreg(lib):
    """One step of the seed's from-scratch linear regression (batch 10, manual SGD)."""
    lib.manual_seed(0)
    X = lib.randn(1000, 2)
    y = (X @ lib.tensor([2.0, -3.4]) + 4.2).reshape(-1, 1)
    w = lib.normal(0.0, 0.01, size=(2, 1)).requires_grad_()
    b = lib.zeros(1, requires_grad=True)
    state = {"i": 0}

    def step():
        i = state["i"]
        state["i"] = (i + 10) % 1000
        xb, yb = X[i : i + 10], y[i : i + 10]
        loss = ((xb @ w + b - yb) ** 2 / 2).sum()
        loss.backward()
        with lib.no_grad():
            for p in (w, b):
                p -= 0.03 * p.grad / 10
                p.grad.zero_()

    return step


def himmelblau(lib):
    """One Adam step on Himmelblau's function (seed 003)."""
    x = lib.tensor([-4.0, 0.0], requires_grad=True)
    opt = lib.optim.Adam([x], lr=1e-3)

    def step():
        pred = (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2
        opt.zero_grad()
        pred.backward()
        opt.step()

    return step


def _epoch(lib, model, opt, loader, loss_fn):
    def run():
        model.train()
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()

    return run


def _loader(lib, flat: bool):
    x, y = fashion_mnist()
    x = x.reshape(len(x), -1) if flat else x.reshape(len(x), 1, 28, 28)
    ds = lib.utils.data.TensorDataset(lib.from_numpy(x), lib.from_numpy(y))
    return lib.utils.data.DataLoader(ds, batch_size=256, shuffle=True)


def softmax(lib):
    """One epoch of softmax regression (784 -> 10, SGD lr 0.1, batch 256)."""
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    return _epoch(lib, model, opt, _loader(lib, True), nn.CrossEntropyLoss())


def mlp(lib):
    """One epoch of the seed's MLP (784 -> 256 ReLU -> 10, SGD lr 0.5, batch 256)."""
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.5)
    return _epoch(lib, model, opt, _loader(lib, True), nn.CrossEntropyLoss())


def _lenet(lib, act):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5),
        act(),
        nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, 5),
        act(),
        nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120),
        act(),
        nn.Linear(120, 84),
        act(),
        nn.Linear(84, 10),
    )


def lenet_sigmoid(lib):
    """One epoch of the seed's LeNet (sigmoid, Adam lr 1e-3, batch 256)."""
    lib.manual_seed(0)
    model = _lenet(lib, lib.nn.Sigmoid)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    return _epoch(lib, model, opt, _loader(lib, False), lib.nn.CrossEntropyLoss())


def lenet_relu(lib):
    """One epoch of LeNet with ReLU and SGD momentum (lr 0.05, momentum 0.9, batch 256)."""
    lib.manual_seed(0)
    model = _lenet(lib, lib.nn.ReLU)
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return _epoch(lib, model, opt, _loader(lib, False), lib.nn.CrossEntropyLoss())


# name -> (unit, iterations per timed sample, repeats)
WORKLOADS = {
    "tiny": (tiny, "us/iter", 2000, 7),
    "linreg": (linreg, "us/iter", 1000, 7),
    "himmelblau": (himmelblau, "us/iter", 1000, 7),
    "softmax": (softmax, "s/epoch", 1, 3),
    "mlp": (mlp, "s/epoch", 1, 3),
    "lenet_sigmoid": (lenet_sigmoid, "s/epoch", 1, 3),
    "lenet_relu": (lenet_relu, "s/epoch", 1, 3),
}
