"""ember vs torch on the same work, each library in its own process, 2 threads.

    python benchmarks/run.py [--only tiny,linreg,...] [--rounds 2] [--json benchmarks/results/latest.json]
                             [--compare OLD.json] [--from NEW.json]

Prints medians, min-max and the ratio ember/torch (lower is better), writes every row to the
JSON file, and refuses to report when the machine is busy (another process using CPU makes
2-thread timings meaningless). `--compare OLD.json` prints, after the run, each workload's
ratio and peak memory before (OLD.json) and after (this run); with `--from NEW.json` it
compares two saved runs without timing anything."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GOALS = {
    "import": 0.2,
    "tiny": 0.8,
    "linreg": 0.8,
    "himmelblau": 0.8,
    "softmax": 0.4,
    # issue #18: LeNet ahead of torch with margin, MLP <= 0.6, peak memory <= 0.7x torch's
    "mlp": 0.6,
    "lenet_sigmoid": 0.9,
    "lenet_relu": 0.9,
    "lenet_sigmoid:ember-threads": 1.5,
    "lenet_relu:ember-threads": 1.5,
    "char_lstm": 1.0,
    "transformer_encoder": 1.0,
    # vision (issue #14): also peak memory <= torch's
    "book_resnet18_fashion": 1.2,
    "resnet18_224": 1.2,
    "dcgan_64": 1.2,
}


def machine_busy(threshold: float = 0.5) -> float:
    """Average number of runnable processes other than us over one second (from /proc/stat)."""

    def snap():
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
        return sum(vals), vals[3] + vals[4]

    t1, i1 = snap()
    time.sleep(1.0)
    t2, i2 = snap()
    busy = 1 - (i2 - i1) / max(t2 - t1, 1)
    return busy * (os.cpu_count() or 1)


def run_one(lib: str, workload: str) -> dict:
    env = dict(
        os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="2", BENCH_THREADS="2"
    )
    if workload.endswith(":ember-threads"):
        # ember's own 2 threads for elementwise/im2col work with BLAS single-threaded (OpenBLAS's
        # spinning workers would otherwise take the second core); torch keeps its 2 threads
        workload = workload.split(":")[0]
        if lib == "ember":
            env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", EMBER_NUM_THREADS="2")
    if workload == "import":
        times = []
        for _ in range(5):
            out = subprocess.run(
                [sys.executable, os.path.join(HERE, "_worker.py"), lib, "import"],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            times.append(json.loads(out.stdout.strip().splitlines()[-1])["times"][0])
        return {"times": times, "unit": "s", "maxrss_mb": 0}
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "_worker.py"), lib, workload],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{lib} {workload} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _by_workload(path: str) -> dict:
    with open(path) as f:
        return {row["workload"]: row for row in json.load(f)["rows"]}


def compare(old_path: str, new_rows: list[dict]) -> list[str]:
    """One line per workload in either run: ratio before -> after and ember's peak memory
    (MB, and as a fraction of torch's) before -> after; '-' where a run lacks the workload."""
    old = _by_workload(old_path)
    new = {row["workload"]: row for row in new_rows}
    lines = [
        f"{'workload':<28} {'ratio old':>9} {'ratio new':>9} {'change':>7}   {'ember MB old -> new (x torch)'}"
    ]
    for name in [*new, *(k for k in old if k not in new)]:
        o, n = old.get(name), new.get(name)
        ro = f"{o['ratio']:.2f}" if o else "-"
        rn = f"{n['ratio']:.2f}" if n else "-"
        ch = f"{(n['ratio'] / o['ratio'] - 1) * 100:+.0f}%" if o and n else ""

        def mem(r):
            if not r or not r["ember"].get("maxrss_mb"):
                return "-"
            t = r["torch"].get("maxrss_mb") or 0
            return f"{r['ember']['maxrss_mb']:.0f}" + (f" ({r['ember']['maxrss_mb'] / t:.2f})" if t else "")

        lines.append(f"{name:<28} {ro:>9} {rn:>9} {ch:>7}   {mem(o)} -> {mem(n)}")
    return lines


def main() -> int:
    sys.path.insert(0, HERE)
    from workloads import WORKLOADS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = ["import", *WORKLOADS, "lenet_sigmoid:ember-threads", "lenet_relu:ember-threads"]
    ap.add_argument("--only", default=",".join(default))
    ap.add_argument("--json", default=os.path.join(HERE, "results", "latest.json"))
    ap.add_argument("--force", action="store_true", help="report even if the machine looks busy")
    ap.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="processes per library, alternating torch/ember and then ember/torch, times pooled: "
        "this VM drifts between fast and slow phases, and interleaving keeps both libraries in the "
        "same phases (default 2)",
    )
    ap.add_argument(
        "--compare", metavar="OLD.json", help="print before/after per workload against a saved run"
    )
    ap.add_argument(
        "--from",
        dest="from_json",
        metavar="NEW.json",
        help="with --compare: compare two saved runs, time nothing",
    )
    args = ap.parse_args()
    if args.from_json:
        if not args.compare:
            ap.error("--from needs --compare OLD.json")
        with open(args.from_json) as f:
            print("\n".join(compare(args.compare, json.load(f)["rows"])))
        return 0
    load = machine_busy()
    if load > 0.5 and not args.force:
        print(
            f"machine is busy (about {load:.1f} cores in use by other processes): not timing", file=sys.stderr
        )
        return 2
    rows = []
    print(
        f"{'workload':<28} {'unit':<8} {'torch median (min-max)':<28} {'ember median (min-max)':<28} {'ratio':>6} {'goal':>6}  mem e/t MB"
    )
    for name in args.only.split(","):
        res = {}
        for r in range(max(1, args.rounds)):
            for lib in ("torch", "ember") if r % 2 == 0 else ("ember", "torch"):
                one = run_one(lib, name)
                if lib not in res:
                    res[lib] = one
                else:
                    res[lib]["times"] += one["times"]
                    res[lib]["maxrss_mb"] = max(res[lib]["maxrss_mb"], one["maxrss_mb"])
        med = {k: statistics.median(v["times"]) for k, v in res.items()}
        ratio = med["ember"] / med["torch"]
        goal = GOALS.get(name)
        fmt = lambda r: f"{statistics.median(r['times']):.4g} ({min(r['times']):.4g}-{max(r['times']):.4g})"
        t_mb = res["torch"]["maxrss_mb"]
        mem_ratio = res["ember"]["maxrss_mb"] / t_mb if t_mb else None
        ok = "" if goal is None else ("met" if ratio <= goal else "MISSED")
        print(
            f"{name:<28} {res['torch']['unit']:<8} {fmt(res['torch']):<28} {fmt(res['ember']):<28} "
            f"{ratio:6.2f} {goal or '':>6} {ok:<6} {res['ember']['maxrss_mb']:.0f}/{res['torch']['maxrss_mb']:.0f}"
            + (f" ({mem_ratio:.2f})" if mem_ratio else ""),
            flush=True,
        )
        rows.append(
            {
                "workload": name,
                "torch": res["torch"],
                "ember": res["ember"],
                "ratio": ratio,
                "goal": goal,
                "mem_ratio": mem_ratio,
            }
        )
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"machine_busy_cores": load, "rows": rows}, f, indent=1)
    if args.compare:
        print("\n".join(compare(args.compare, rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
