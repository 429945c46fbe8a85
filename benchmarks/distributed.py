"""Data-parallel scaling and all-reduce overhead, on this machine (each process 1 thread).

    python benchmarks/distributed.py [--force] [--epochs 2] [--reps 10]

1. LeNet (the notes' sigmoid LeNet, Adam, global batch 64) on 2,000 28x28 images: seconds per
   epoch with 1 process and with 2 processes (DistributedDataParallel + DistributedSampler).
2. All-reduce of 1, 10 and 100 MB of float32 on 2 processes: ember.distributed.all_reduce
   against mpi4py's own Allreduce on a NumPy buffer (the engine underneath), median of --reps;
   also without ember's call check (EMBER_DISTRIBUTED_CHECKS=0), to show what it costs.

Refuses to time a busy machine unless --force (the figures are then only indicative)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _worker_lenet(epochs: int) -> None:
    # the workers import ember and MPI; the driver process never does (it only starts mpirun)
    import numpy as np

    import ember
    import ember.distributed as dist
    from ember.cli.models import LeNet
    from ember.utils.data import DataLoader, DistributedSampler, TensorDataset

    world = int(os.environ.get("OMPI_COMM_WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("mpi")
    g = np.random.default_rng(0)
    x = ember.from_numpy(g.random((2000, 1, 28, 28), dtype=np.float32))
    y = ember.from_numpy(g.integers(0, 10, 2000))
    ember.manual_seed(0)
    net = LeNet("sigmoid")
    model = ember.nn.parallel.DistributedDataParallel(net) if world > 1 else net
    opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    ds = TensorDataset(x, y)
    sampler = DistributedSampler(ds, seed=0) if world > 1 else None
    loader = DataLoader(ds, batch_size=64 // world, sampler=sampler, shuffle=sampler is None)
    loss_fn = ember.nn.CrossEntropyLoss()
    times = []
    for epoch in range(epochs + 1):  # the first epoch warms up
        if sampler is not None:
            sampler.set_epoch(epoch)
            dist.barrier()
        t0 = time.perf_counter()
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()
        if world > 1:
            dist.barrier()
        times.append(time.perf_counter() - t0)
    if world == 1 or dist.get_rank() == 0:
        print(json.dumps({"epoch_s": times[1:]}), flush=True)


def _worker_allreduce(reps: int) -> None:
    import numpy as np
    from mpi4py import MPI

    import ember
    import ember.distributed as dist
    from ember.distributed import checks

    dist.init_process_group("mpi")
    comm = MPI.COMM_WORLD
    out = {}
    kinds = ("ember", "ember_nocheck", "mpi4py")
    for mb in (1, 10, 100):
        n = mb * 2**20 // 4
        t = ember.ones(n)
        buf = np.ones(n, dtype=np.float32)
        times: dict = {k: [] for k in kinds}
        for rep in range(reps + 1):
            for which in kinds if rep % 2 == 0 else kinds[::-1]:
                checks.CHECKS = which == "ember"  # the call description exchange on or off
                comm.Barrier()
                t0 = time.perf_counter()
                if which == "mpi4py":
                    comm.Allreduce(MPI.IN_PLACE, buf)
                else:
                    dist.all_reduce(t)
                dt = time.perf_counter() - t0
                if rep:  # rep 0 warms up
                    times[which].append(dt)
        out[mb] = {f"{k}_s": statistics.median(v) for k, v in times.items()}
    if comm.Get_rank() == 0:
        print(json.dumps(out), flush=True)


def _mpirun(n: int, *args: str) -> dict:
    cmd = [shutil.which("mpirun") or "mpirun", "-n", str(n), "--bind-to", "none", "--oversubscribe"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", EMBER_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    cmd += [
        "-x",
        "PYTHONPATH",
        "-x",
        "OMP_NUM_THREADS",
        "-x",
        "OPENBLAS_NUM_THREADS",
        "-x",
        "EMBER_NUM_THREADS",
    ]
    p = subprocess.run(
        [*cmd, sys.executable, os.path.abspath(__file__), *args], capture_output=True, text=True, env=env
    )
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} on {n} processes failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--force", action="store_true", help="time even if the machine looks busy")
    ap.add_argument("--epochs", type=int, default=2, help="timed LeNet epochs (after one warm-up)")
    ap.add_argument("--reps", type=int, default=10, help="all-reduces timed per size and library")
    ap.add_argument("--worker", choices=("lenet", "allreduce"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "lenet":
        _worker_lenet(args.epochs)
        return 0
    if args.worker == "allreduce":
        _worker_allreduce(args.reps)
        return 0
    sys.path.insert(0, HERE)
    from run import machine_busy

    load = machine_busy()
    if load > 0.5 and not args.force:
        print(
            f"machine is busy (about {load:.1f} cores in use by other processes): not timing", file=sys.stderr
        )
        return 2
    note = "" if load <= 0.5 else f"  (machine busy: ~{load:.1f} cores in use by others; only indicative)"
    one = _mpirun(1, "--worker", "lenet", "--epochs", str(args.epochs))
    two = _mpirun(2, "--worker", "lenet", "--epochs", str(args.epochs))
    t1, t2 = statistics.median(one["epoch_s"]), statistics.median(two["epoch_s"])
    print(f"LeNet epoch (2,000 images, global batch 64, 1 thread per process){note}")
    print(f"  1 process   {t1:7.2f} s")
    print(f"  2 processes {t2:7.2f} s   speed-up {t1 / t2:.2f}x")
    res = _mpirun(2, "--worker", "allreduce", "--reps", str(args.reps))
    print(f"all_reduce on 2 processes, median of {args.reps}{note}")
    print(
        f"  {'size':>6} {'mpi4py Allreduce':>17} {'ember all_reduce':>17} {'overhead':>9}   without the check"
    )
    for mb, r in res.items():
        over = r["ember_s"] / r["mpi4py_s"] - 1
        bare = r["ember_nocheck_s"] / r["mpi4py_s"] - 1
        print(
            f"  {mb:>4}MB {r['mpi4py_s'] * 1e3:14.2f} ms {r['ember_s'] * 1e3:14.2f} ms {over:+8.1%}   "
            f"{r['ember_nocheck_s'] * 1e3:.2f} ms ({bare:+.1%})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
