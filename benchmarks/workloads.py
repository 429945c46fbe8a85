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


# -- sequence models (issue #13) -----------------------------------------------------------------
SEEDS = os.environ.get("EMBER_BENCH_SEEDS") or next(
    (
        d
        for d in (os.path.join(os.path.dirname(__file__), *[".."] * k, "shared", "seeds") for k in (2, 3))
        if os.path.isdir(d)
    ),
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "seeds"),
)  # the project's ../shared (a worktree under wt/ sits one level deeper)


def seed_corpus() -> str:
    names = sorted(n for n in os.listdir(SEEDS) if n.endswith(".txt"))
    return "".join(open(os.path.join(SEEDS, n), encoding="utf-8").read() for n in names)


def char_lstm(lib):
    """One epoch of a char-level LSTM LM on the seed notes (the whole corpus, ~51k chars, vocab
    ~790): embedding 256 -> LSTM(256, 256) -> Linear(256, V), batch 32 x 35 steps, sequential
    batches with the state detached between them, Adam lr 1e-3, grad-norm clip 1.0."""
    lib.manual_seed(0)
    nn = lib.nn
    text = seed_corpus()
    vocab = {c: i for i, c in enumerate(sorted(set(text)))}
    idx = np.array([vocab[c] for c in text], dtype=np.int64)
    B, T, H = 32, 35, 256
    n = (len(idx) - 1) // B
    X = lib.from_numpy(idx[: n * B].reshape(B, n).copy())
    Y = lib.from_numpy(idx[1 : n * B + 1].reshape(B, n).copy())
    starts = range(0, n - T + 1, T)
    emb, rnn, out = nn.Embedding(len(vocab), H), nn.LSTM(H, H, batch_first=True), nn.Linear(H, len(vocab))
    params = [*emb.parameters(), *rnn.parameters(), *out.parameters()]
    opt = lib.optim.Adam(params, lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def run():
        state = None
        for s in starts:
            if state is not None:
                state = (state[0].detach(), state[1].detach())
            y, state = rnn(emb(X[:, s : s + T]), state)
            loss = loss_fn(out(y.reshape(-1, H)), Y[:, s : s + T].reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()

    return run


def transformer_encoder(lib):
    """One training step of a Transformer-encoder classifier: tokens (vocab 1000) -> embedding
    128 -> 2 x TransformerEncoderLayer(128, 4 heads, ff 512, dropout 0.1, batch_first) -> mean
    -> Linear(128, 10); batch 32 x 64 tokens, Adam lr 1e-3."""
    lib.manual_seed(0)
    nn = lib.nn
    layer = nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, batch_first=True)
    emb = nn.Embedding(1000, 128)
    enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    head = nn.Linear(128, 10)
    params = [*emb.parameters(), *enc.parameters(), *head.parameters()]
    opt = lib.optim.Adam(params, lr=1e-3)
    r = np.random.default_rng(0)
    x = lib.from_numpy(r.integers(0, 1000, (32, 64)))
    y = lib.from_numpy(r.integers(0, 10, 32))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        loss = loss_fn(head(enc(emb(x)).mean(1)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


WORKLOADS.update(
    {
        "char_lstm": (char_lstm, "s/epoch", 1, 3),
        "transformer_encoder": (transformer_encoder, "us/iter", 10, 3),
    }
)
