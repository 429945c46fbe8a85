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

# ---------------------------------------------------------------- vision (issue #14)
# The same architectures for both libraries, written on `lib.nn`; for ember, resnet18 is
# ember.vision.models.resnet18 itself (its layout equals torchvision's, see tests/vision).


def _book_resnet18(lib):
    """The book's (d2l) ResNet-18 for 1-channel Fashion-MNIST: 7x7/2 stem, 4 stages of 2 residuals, 10 classes."""
    nn, F = lib.nn, lib.nn.functional

    class Residual(nn.Module):
        def __init__(self, cin, cout, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, kernel_size=3, padding=1, stride=strides)
            self.conv2 = nn.Conv2d(cout, cout, kernel_size=3, padding=1)
            self.conv3 = nn.Conv2d(cin, cout, kernel_size=1, stride=strides) if use_1x1conv else None
            self.bn1, self.bn2 = nn.BatchNorm2d(cout), nn.BatchNorm2d(cout)

        def forward(self, x):
            y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            if self.conv3 is not None:
                x = self.conv3(x)
            return F.relu(y + x)

    def block(cin, cout, n, first=False):
        return [
            Residual(cin, cout, True, 2) if i == 0 and not first else Residual(cout, cout) for i in range(n)
        ]

    b1 = nn.Sequential(
        nn.Conv2d(1, 64, 7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
    )
    return nn.Sequential(
        b1,
        nn.Sequential(*block(64, 64, 2, first=True)),
        nn.Sequential(*block(64, 128, 2)),
        nn.Sequential(*block(128, 256, 2)),
        nn.Sequential(*block(256, 512, 2)),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        nn.Linear(512, 10),
    )


def _tv_resnet18(lib):
    """torchvision's resnet18 (BasicBlock [2, 2, 2, 2], 1000 classes) on `lib.nn`."""
    if lib.__name__ == "ember":
        import ember.vision

        return ember.vision.models.resnet18()
    nn = lib.nn

    class Basic(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            out += idt
            return self.relu(out)

    stages = [nn.Sequential(Basic(cin, cout, s), Basic(cout, cout, 1)) for cin, cout, s in
              ((64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2))]  # fmt: skip
    return nn.Sequential(
        nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1),
        *stages, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 1000),
    )  # fmt: skip


def book_resnet18_fashion(lib):
    """One SGD step (lr 0.05) of the book's ResNet-18 on a batch of 128 Fashion-MNIST images at 28x28."""
    lib.manual_seed(0)
    x, y = fashion_mnist()
    model = _book_resnet18(lib)
    opt = lib.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = lib.nn.CrossEntropyLoss()
    xs, ys = lib.from_numpy(x[:, None].copy()), lib.from_numpy(y)
    state = {"i": 0}

    def step():
        i = state["i"]
        state["i"] = (i + 128) % (len(x) - 128)
        loss = loss_fn(model(xs[i : i + 128]), ys[i : i + 128])
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def resnet18_224(lib):
    """torchvision resnet18 forward + backward (SGD step) on a batch of 16 random 3x224x224 images."""
    lib.manual_seed(0)
    model = _tv_resnet18(lib)
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xb = lib.randn(16, 3, 224, 224)
    yb = lib.randint(0, 1000, (16,))
    loss_fn = lib.nn.CrossEntropyLoss()

    def step():
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def dcgan_64(lib):
    """One DCGAN training step at 64x64 (nz 100, ngf = ndf = 64, batch 64, Adam 2e-4, beta1 0.5): D on real and
    fake, then G; the PyTorch examples' architecture. Needs nn.ConvTranspose2d."""
    nn = lib.nn
    lib.manual_seed(0)
    g = nn.Sequential(
        nn.ConvTranspose2d(100, 512, 4, 1, 0, bias=False), nn.BatchNorm2d(512), nn.ReLU(True),
        nn.ConvTranspose2d(512, 256, 4, 2, 1, bias=False), nn.BatchNorm2d(256), nn.ReLU(True),
        nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
        nn.ConvTranspose2d(64, 3, 4, 2, 1, bias=False), nn.Tanh(),
    )  # fmt: skip
    d = nn.Sequential(
        nn.Conv2d(3, 64, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(128, 256, 4, 2, 1, bias=False), nn.BatchNorm2d(256), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(256, 512, 4, 2, 1, bias=False), nn.BatchNorm2d(512), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(512, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
    )  # fmt: skip
    opt_g = lib.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = lib.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCELoss()
    real = lib.rand(64, 3, 64, 64) * 2 - 1
    ones, zeros = lib.ones(64), lib.zeros(64)

    def step():
        noise = lib.randn(64, 100, 1, 1)
        fake = g(noise)
        opt_d.zero_grad()
        loss_d = bce(d(real).view(-1), ones) + bce(d(fake.detach()).view(-1), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = bce(d(fake).view(-1), ones)
        loss_g.backward()
        opt_g.step()

    return step


WORKLOADS.update(
    {
        "book_resnet18_fashion": (book_resnet18_fashion, "s/iter", 2, 3),
        "resnet18_224": (resnet18_224, "s/iter", 1, 3),
        "dcgan_64": (dcgan_64, "s/iter", 1, 3),
    }
)
