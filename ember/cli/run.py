"""``ember run``: torchrun's launcher on MPI. Starts `--nproc-per-node` workers per node through
`mpirun` and exits with a non-zero status when any of them fails."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys

from ember.cli.errors import CLIError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="launch a data-parallel script on N processes (torchrun's flags, started through mpirun)",
        description="Start a script on --nproc-per-node processes per node through Open MPI's mpirun, with "
        "torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT). "
        "Several nodes: --nnodes M with --hosts or --hostfile, launched once from node 0 (mpirun starts the "
        "other nodes' workers over ssh). The exit status is non-zero when any worker fails.",
    )
    p.add_argument(
        "--nproc-per-node",
        "--nproc_per_node",
        type=int,
        default=1,
        metavar="N",
        help="worker processes per node (default 1)",
    )
    p.add_argument("--nnodes", type=int, default=1, metavar="M", help="number of nodes (default 1)")
    p.add_argument(
        "--node-rank",
        "--node_rank",
        type=int,
        default=0,
        metavar="K",
        help="this node's rank; with MPI only node 0 launches (default 0)",
    )
    p.add_argument(
        "--master-addr",
        "--master_addr",
        default=None,
        metavar="ADDR",
        help="MASTER_ADDR given to the workers (default: the first host, or 127.0.0.1)",
    )
    p.add_argument(
        "--master-port",
        "--master_port",
        type=int,
        default=29500,
        metavar="PORT",
        help="MASTER_PORT given to the workers (default 29500)",
    )
    p.add_argument("--hosts", metavar="H1,H2,...", help="the nodes' host names or addresses (--nnodes > 1)")
    p.add_argument("--hostfile", metavar="FILE", help="an Open MPI hostfile instead of --hosts")
    p.add_argument(
        "--mpirun-args",
        default="",
        metavar="ARGS",
        help='extra arguments for mpirun, e.g. "--mca btl tcp,self"',
    )
    p.add_argument("-m", "--module", action="store_true", help="run the target as a module (python -m)")
    p.add_argument("--dry-run", action="store_true", help="print the mpirun command instead of running it")
    p.add_argument("script", help="the training script (or module with -m)")
    p.add_argument("script_args", nargs=argparse.REMAINDER, help="arguments for the script")
    p.set_defaults(func=run)


def mpirun_command(args: argparse.Namespace, target: list[str]) -> tuple[list[str], dict[str, str]]:
    """The mpirun command line and environment that start `target` (a worker command) on every rank."""
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise CLIError(
            "mpirun not found: install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev) "
            "and mpi4py (pip install 'ember[distributed]')"
        )
    n, nodes = args.nproc_per_node, args.nnodes
    if n < 1 or nodes < 1:
        raise CLIError("--nproc-per-node and --nnodes must be >= 1")
    if not 0 <= args.node_rank < nodes:
        raise CLIError(f"--node-rank {args.node_rank} is not in [0, {nodes - 1}]")
    if args.node_rank != 0:
        raise CLIError(
            "with ember's MPI launcher the whole job starts once, from node 0 (mpirun reaches the other nodes "
            "over ssh): run `ember run --nnodes M --hosts ...` there, and nothing on the other nodes"
        )
    cmd = [mpirun, "-n", str(n * nodes), "--bind-to", "none"]
    hosts = [h for h in (args.hosts or "").split(",") if h]
    if nodes > 1:
        if args.hostfile:
            cmd += ["--hostfile", args.hostfile, "--npernode", str(n)]
        elif len(hosts) == nodes:
            cmd += ["--host", ",".join(f"{h}:{n}" for h in hosts)]
        else:
            raise CLIError(f"--nnodes {nodes} needs --hostfile or --hosts with {nodes} names")
    elif hosts:
        cmd += ["--host", f"{hosts[0]}:{n}"]
    if n > (os.cpu_count() or 1) or nodes == 1:
        cmd.append("--oversubscribe")  # more workers than cores must not be refused (each uses 1 thread)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    env = dict(os.environ)
    env["MASTER_ADDR"] = args.master_addr or (hosts[0] if hosts else "127.0.0.1")
    env["MASTER_PORT"] = str(args.master_port)
    if n * nodes > 1:
        env.setdefault("OMP_NUM_THREADS", "1")  # as torchrun: one thread per worker unless told otherwise
        env.setdefault("EMBER_NUM_THREADS", "1")
    forwarded = ["MASTER_ADDR", "MASTER_PORT", "OMP_NUM_THREADS", "EMBER_NUM_THREADS", "PYTHONPATH", "PATH"]
    for name in forwarded:
        if name in env:
            cmd += ["-x", name]
    cmd += shlex.split(args.mpirun_args)
    return cmd + target, env


def worker_command(script: str, script_args: list[str], module: bool = False) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ember.distributed.worker",
        *(["-m"] if module else []),
        script,
        *script_args,
    ]


def run(args: argparse.Namespace) -> int:
    if not args.module and not os.path.isfile(args.script):
        raise CLIError(f"script not found: {args.script}")
    script_args = list(args.script_args)
    if script_args[:1] == ["--"]:
        script_args = script_args[1:]
    cmd, env = mpirun_command(args, worker_command(args.script, script_args, args.module))
    if args.dry_run:
        print(shlex.join(cmd))
        return 0
    return subprocess.call(cmd, env=env)
