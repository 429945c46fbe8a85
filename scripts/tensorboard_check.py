"""End-to-end check of ember's SummaryWriter against a real TensorBoard server.

Writes the seed examples (four scalar curves, 'distribution centers' histograms, a LeNet graph)
with ember, starts `tensorboard --logdir` on a free port, checks its HTTP data API serves the
tags and the graph, and (where Chromium is installed) saves headless screenshots of the Scalars,
Histograms and Graphs dashboards. The server is always terminated.

    python scripts/tensorboard_check.py [--logdir DIR] [--out DIR] [--no-screenshots]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import struct
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


class _DevTools:
    """The smallest Chrome DevTools Protocol client (one websocket, stdlib only)."""

    def __init__(self, ws_url: str) -> None:
        host, path = ws_url[len("ws://") :].split("/", 1)
        h, p = host.split(":")
        self.sock = socket.create_connection((h, int(p)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        self.buf = self.buf.split(b"\r\n\r\n", 1)[1]
        self.id = 0

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self.buf += self.sock.recv(65536)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _frame(self) -> bytes:
        data = b""
        while True:
            b0, b1 = self._take(2)
            n = b1 & 127
            if n == 126:
                n = struct.unpack(">H", self._take(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._take(8))[0]
            data += self._take(n)
            if b0 & 0x80:
                return data

    def call(self, method: str, **params) -> dict:
        self.id += 1
        payload = json.dumps({"id": self.id, "method": method, "params": params}).encode()
        n, mask = len(payload), os.urandom(4)
        size = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
        self.sock.sendall(b"\x81" + size + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        while True:
            msg = json.loads(self._frame())
            if msg.get("id") == self.id:
                return msg.get("result", msg)


def expanded_graph_shot(browser: str, base: str, path: Path) -> bool:
    """Open the Graphs dashboard, double-click the model's box to expand it, save a screenshot."""
    port = _free_port()
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
           f"--remote-debugging-port={port}", "about:blank"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        tabs = _wait_json(f"http://127.0.0.1:{port}/json", lambda j: j, time.time() + 30)
        dt = _DevTools([t for t in tabs if t["type"] == "page"][0]["webSocketDebuggerUrl"])
        dt.call("Page.navigate", url=f"{base}/#graphs&run={RUN}")
        time.sleep(8)
        x, y = 440, 261  # where TensorBoard lays out the single top-level module box
        for kind, clicks in (("mouseMoved", 0), ("mousePressed", 1), ("mouseReleased", 1),
                             ("mousePressed", 2), ("mouseReleased", 2)):  # fmt: skip
            dt.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=clicks)
        time.sleep(2)
        path.write_bytes(base64.b64decode(dt.call("Page.captureScreenshot", format="png")["data"]))
        return True
    except (OSError, TimeoutError, KeyError, IndexError) as e:
        print("expanded graph screenshot failed:", e)
        return False
    finally:
        proc.terminate()
        proc.wait(timeout=10)


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
    if expanded_graph_shot(browser, base, out / "graphs_expanded.png"):
        shots.append(out / "graphs_expanded.png")
        print("screenshot:", out / "graphs_expanded.png")
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
