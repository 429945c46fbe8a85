"""``ember train MODEL --nproc N``: the same training data-parallel. The command starts itself again
on N MPI processes (as `ember run` does); there each process trains a DistributedDataParallel
replica on its DistributedSampler share, and rank 0 prints, logs and writes the checkpoint."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import ember
from ember.cli.errors import CLIError
from ember.cli.run import mpirun_command


def in_worker() -> bool:
    """Whether this process was started by an MPI launcher."""
    return "OMPI_COMM_WORLD_SIZE" in os.environ or "PMI_SIZE" in os.environ


def relaunch(args: argparse.Namespace) -> int:
    """Run this same command on `args.nproc` processes through mpirun; its exit status."""
    argv = getattr(args, "argv", None)
    if argv is None:
        raise CLIError("--nproc needs the command line (run it as `ember train ...`)")
    launch = argparse.Namespace(
        nproc_per_node=args.nproc,
        nnodes=1,
        node_rank=0,
        master_addr=None,
        master_port=29500,
        hosts=None,
        hostfile=None,
        mpirun_args="",
    )
    cmd, env = mpirun_command(
        launch, [sys.executable, "-m", "ember.distributed.worker", "-m", "ember.cli", *argv]
    )
    return subprocess.call(cmd, env=env)


def setup(nproc: int) -> tuple[int, int]:
    """(world size, rank): joins the process group when started on several processes."""
    if nproc == 1:
        return 1, 0
    ember.distributed.init_process_group("mpi")
    world = ember.distributed.get_world_size()
    if world != nproc:
        raise CLIError(f"--nproc {nproc}, but the launcher started {world} processes")
    return world, ember.distributed.get_rank()


def on_rank0(fn, world: int):
    """fn() computed on rank 0 only and handed to every rank (e.g. finding or downloading the
    data once, instead of every rank racing to create and clean up the same folders)."""
    if world == 1:
        return fn()
    box = [fn() if ember.distributed.get_rank() == 0 else None]
    ember.distributed.broadcast_object_list(box, src=0)
    return box[0]


def sum_over_ranks(*values: float) -> list:
    """The sums over all ranks of some per-rank counters (samples, loss sums, correct answers)."""
    t = ember.tensor([float(v) for v in values], dtype=ember.float64)
    ember.distributed.all_reduce(t)
    return [type(v)(x) for v, x in zip(values, t.tolist())]


def teardown() -> None:
    ember.distributed.destroy_process_group()
