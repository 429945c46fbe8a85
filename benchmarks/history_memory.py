"""Memory growth of the common `history.append(loss)` training loop (issue #12).

`python benchmarks/history_memory.py [steps]` trains the same MLP with ember and with torch, each
in its own process, keeping every loss tensor in a list, and prints the RSS growth per step after a
warm-up. torch frees each step's activations once backward() ran; a loss that keeps its graph's
inputs alive shows up as ~activation-size growth per step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys
lib = __import__(sys.argv[1]); steps = int(sys.argv[2])
def rss_kb():
    with open("/proc/self/status") as f:
        return int(next(l for l in f if l.startswith("VmRSS")).split()[1])
lib.manual_seed(0)
nn = lib.nn
model = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
opt = lib.optim.SGD(model.parameters(), lr=0.01)
x, y = lib.randn(128, 256), lib.randint(0, 10, (128,))
history = []
def step():
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    history.append(loss)
for _ in range(20):
    step()
start = rss_kb()
for _ in range(steps):
    step()
print(json.dumps({"mb_per_step": (rss_kb() - start) / 1024 / steps, "total_mb": (rss_kb() - start) / 1024}))
"""


def measure(lib: str, steps: int) -> dict:
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, lib, str(steps)], env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout)


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    for lib in ("ember", "torch"):
        r = measure(lib, steps)
        print(f"{lib:6s} {steps} steps: +{r['total_mb']:.1f} MB RSS, {r['mb_per_step']:.3f} MB/step")


if __name__ == "__main__":
    main()
