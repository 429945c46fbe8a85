"""Instructions per step of a small-graph workload, counted by valgrind's callgrind.

    python benchmarks/callgrind.py [--lib ember] [--only tiny,linreg] [--steps 200]

Deterministic (the same binary and inputs give the same count whatever else the machine does),
so it is the measure for small-graph changes on a noisy VM. Only code run through `eval` is
counted (`--toggle-collect=builtin_eval`): N steps minus an empty loop of N, divided by N."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import sys
sys.path.insert(0, {here!r})
lib = __import__({lib!r})
from workloads import WORKLOADS
step = WORKLOADS[{workload!r}][0](lib)
for _ in range(20):
    step()  # warm caches (scalar arrays, seeds) before counting
n = {steps}
eval("[step() for _ in range(n)]" if {real} else "[None for _ in range(n)]")
"""


def count(lib: str, workload: str, steps: int, real: bool) -> int:
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        code = CHILD.format(here=HERE, lib=lib, workload=workload, steps=steps, real=real)
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--toggle-collect=builtin_eval",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-c",
                code,
            ],
            check=True,
            capture_output=True,
            env=env,
        )
        with open(out) as f:
            text = f.read()
        m = re.search(r"^summary:\s+(\d+)", text, re.M) or re.search(r"^totals:\s+(\d+)", text, re.M)
        return int(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", default="ember")
    ap.add_argument("--only", default="tiny,linreg")
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    for w in args.only.split(","):
        full = count(args.lib, w, args.steps, True)
        empty = count(args.lib, w, args.steps, False)
        print(f"{args.lib:6s} {w:12s} {(full - empty) / args.steps:12,.0f} instructions/step")


if __name__ == "__main__":
    main()
