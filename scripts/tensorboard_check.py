"""End-to-end check of ember's SummaryWriter against a real TensorBoard server.

Writes the seed examples (four scalar curves, 'distribution centers' histograms, a LeNet graph)
with ember, starts `tensorboard --logdir` on a free port, checks its HTTP data API serves the
tags and the graph, and (where Chromium is installed) saves headless screenshots of the Scalars,
Histograms and Graphs dashboards. The server is always terminated.

    python scripts/tensorboard_check.py [--logdir DIR] [--out DIR] [--no-screenshots]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

import ember
from ember.utils.tensorboard import SummaryWriter

RUN = "ember_run"
SCALAR_TAGS = ["Loss/train", "Loss/test", "Accuracy/train", "Accuracy/test"]


def _model():
    """The seed's LeNet when ember.nn has conv layers, else the smallest nn model available."""
    nn = ember.nn
    if not hasattr(nn, "Conv2d"):

        class MLP(nn.Module):
            def __init__(self):
                super().__init__()
                self.w1 = nn.Parameter(ember.randn(8, 16))
                self.w2 = nn.Parameter(ember.randn(16, 4))

            def forward(self, x):
                return (x @ self.w1).relu() @ self.w2

        return MLP(), ember.zeros(2, 8)
    F = nn.functional

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

    return LeNet(), ember.zeros(2, 1, 28, 28)


def write_log(logdir: Path) -> None:
    writer = SummaryWriter(str(logdir / RUN))
    for n_iter in range(100):
        for tag in SCALAR_TAGS:
            writer.add_scalar(tag, np.random.random(), n_iter)
    x = np.random.random(1000)
    for i in range(10):
        writer.add_histogram("distribution centers", x + i, i)
    model, inp = _model()
    writer.add_graph(model, inp)
    writer.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def _wait_json(url: str, ready, deadline: float):
    """Poll url until ready(json) holds (TensorBoard loads event files in the background)."""
    last = None
    while time.time() < deadline:
        try:
            last = json.loads(_get(url))
            if ready(last):
                return last
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} never became ready; last answer: {last}")


def check_api(base: str) -> list[str]:
    """Problems found in what the server serves (empty list: all good)."""
    deadline = time.time() + 90
    problems = []
    scalars = _wait_json(base + "/data/plugin/scalars/tags", lambda j: RUN in j, deadline)
    if sorted(scalars[RUN]) != sorted(SCALAR_TAGS):
        problems.append(f"scalar tags: {sorted(scalars[RUN])}")
    q = urllib.parse.urlencode({"run": RUN, "tag": "Loss/train"})
    points = json.loads(_get(base + "/data/plugin/scalars/scalars?" + q))
    if [p[1] for p in points] != list(range(100)):
        problems.append(f"Loss/train steps: {[p[1] for p in points][:5]}...")
    hist = _wait_json(base + "/data/plugin/histograms/tags", lambda j: RUN in j, deadline)
    if "distribution centers" not in hist[RUN]:
        problems.append(f"histogram tags: {hist[RUN]}")
    info = _wait_json(base + "/data/plugin/graphs/info", lambda j: RUN in j, deadline)
    if not info[RUN].get("run_graph"):
        problems.append(f"graphs info: {info[RUN]}")
    q = urllib.parse.urlencode({"run": RUN, "conversions": "false"})
    pbtxt = _get(base + "/data/plugin/graphs/graph?" + q).decode()
    for needle in ('op: "aten::relu"', 'op: "IO Node"', "_output_shapes"):
        if needle not in pbtxt:
            problems.append(f"graph misses {needle}")
    print(
        f"served: scalars {sorted(scalars[RUN])}, histograms {hist[RUN]}, graph nodes {pbtxt.count('node {')}"
    )
    return problems


def screenshots(base: str, out: Path) -> list[Path]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        print("no Chromium found: skipping screenshots")
        return []
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    for name, frag in (("scalars", "scalars"), ("histograms", "histograms"), ("graphs", f"graphs&run={RUN}")):
        path = out / f"{name}.png"
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--window-size=1400,1000", "--virtual-time-budget=15000", f"--screenshot={path}",
               f"{base}/#{frag}"]  # fmt: skip
        subprocess.run(cmd, capture_output=True, timeout=120, check=False)
        if path.exists():
            shots.append(path)
            print("screenshot:", path)
    return shots


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logdir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("tensorboard_screenshots"))
    ap.add_argument("--no-screenshots", action="store_true")
    args = ap.parse_args(argv)
    logdir = args.logdir or Path(tempfile.mkdtemp(prefix="ember_tb_"))
    write_log(logdir)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    exe = shutil.which("tensorboard")
    tb = [exe] if exe else [sys.executable, "-m", "tensorboard.main"]
    tb += ["--logdir", str(logdir), "--host", "127.0.0.1",
          "--port", str(port), "--reload_interval", "1"]  # fmt: skip
    server = subprocess.Popen(tb, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        problems = check_api(base)
        if not args.no_screenshots:
            screenshots(base, args.out)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    for p in problems:
        print("PROBLEM:", p)
    print("OK" if not problems else "FAILED", "logdir:", logdir)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
