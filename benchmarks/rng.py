"""Random-number throughput: ember's torch-compatible generator vs NumPy's own generator (and torch),
each library in its own process, single-threaded.

    python benchmarks/rng.py [--rounds 3] [--force]

The goal (issue #17): drawing 10 million float32 uniforms costs at most 2x NumPy's own generator
(`default_rng().random(n, dtype=float32)`). The other rows are reported for information."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
N = 10_000_000
GOALS = {"rand 10M float32": 2.0}

# workload -> {library: statement}; `lib` is the imported library, `g` a seeded generator
WORKLOADS = {
    "rand 10M float32": {
        "numpy": "g.random(N, dtype=np.float32)",
        "ember": "lib.rand(N)",
        "torch": "lib.rand(N)",
    },
    "rand 10M float64": {
        "numpy": "g.random(N)",
        "ember": "lib.rand(N, dtype=lib.float64)",
        "torch": "lib.rand(N, dtype=lib.float64)",
    },
    "randn 10M float32": {
        "numpy": "g.standard_normal(N, dtype=np.float32)",
        "ember": "lib.randn(N)",
        "torch": "lib.randn(N)",
    },
    "randint 10M int64": {
        "numpy": "g.integers(0, 10, N)",
        "ember": "lib.randint(0, 10, (N,))",
        "torch": "lib.randint(0, 10, (N,))",
    },
    "randperm 60000": {
        "numpy": "g.permutation(60000)",
        "ember": "lib.randperm(60000)",
        "torch": "lib.randperm(60000)",
    },
}


def _child(lib_name: str, workload: str, repeats: int) -> None:
    import numpy as np

    lib = np if lib_name == "numpy" else __import__(lib_name)
    if lib_name == "ember":
        print(f"ember from {lib.__file__}", file=sys.stderr)
    if lib_name == "torch":
        lib.set_num_threads(1)
    g = np.random.default_rng(0)
    if lib_name != "numpy":
        lib.manual_seed(0)
    stmt = compile(WORKLOADS[workload][lib_name], "<bench>", "eval")
    env = {"lib": lib, "g": g, "np": np, "N": N}
    eval(stmt, env)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        eval(stmt, env)
        times.append(time.perf_counter() - t0)
    print(json.dumps(times))


def _run(lib: str, workload: str, repeats: int) -> list[float]:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    # measure this checkout's ember, not whichever ember is installed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.dirname(HERE), env.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, __file__, "--child", lib, workload, str(repeats)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="processes per library, alternating order")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls per process")
    ap.add_argument("--only", default=",".join(WORKLOADS))
    ap.add_argument("--force", action="store_true", help="report even if the machine looks busy")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    sys.path.insert(0, HERE)
    from run import machine_busy

    load = machine_busy()
    if load > 0.5 and not args.force:
        print(
            f"machine is busy (about {load:.1f} cores in use): not timing (--force to override)",
            file=sys.stderr,
        )
        return 2
    libs = ("numpy", "ember", "torch")
    print(
        f"{'workload':<20} {'numpy ms':>10} {'ember ms':>10} {'torch ms':>10} {'e/numpy':>8} {'e/torch':>8} {'goal':>5}"
    )
    for name in args.only.split(","):
        times: dict[str, list[float]] = {lib: [] for lib in libs}
        for r in range(args.rounds):
            for lib in libs if r % 2 == 0 else libs[::-1]:
                times[lib] += _run(lib, name, args.repeats)
        med = {lib: statistics.median(v) * 1e3 for lib, v in times.items()}
        goal = GOALS.get(name)
        ratio = med["ember"] / med["numpy"]
        verdict = "" if goal is None else ("met" if ratio <= goal else "MISSED")
        print(
            f"{name:<20} {med['numpy']:10.1f} {med['ember']:10.1f} {med['torch']:10.1f} {ratio:8.2f} "
            f"{med['ember'] / med['torch']:8.2f} {goal or '':>5} {verdict}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
