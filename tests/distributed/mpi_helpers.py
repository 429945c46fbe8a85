"""Running small scripts under mpirun for the distributed tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"
MPIRUN = shutil.which("mpirun")
HAVE_MPI = MPIRUN is not None and find_spec("mpi4py") is not None
needs_mpi = pytest.mark.skipif(
    not HAVE_MPI,
    reason="needs Open MPI's mpirun and mpi4py (apt-get install openmpi-bin libopenmpi-dev; pip install mpi4py)",
)


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [e.get("PYTHONPATH")])])
    e["OMP_NUM_THREADS"] = e["EMBER_NUM_THREADS"] = "1"
    e["OMPI_MCA_orte_base_help_aggregate"] = "0"
    return e


def mpirun_args(n: int) -> list[str]:
    args = [
        MPIRUN,
        "-n",
        str(n),
        "--oversubscribe",
        "--bind-to",
        "none",
        "-x",
        "PYTHONPATH",
        "-x",
        "OMP_NUM_THREADS",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-run-as-root")
    return args


def run(cmd: list[str], timeout: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env(), cwd=ROOT)
    return p, time.monotonic() - t0


def mpirun(
    n: int, script: str, *args: str, timeout: float = 120
) -> tuple[subprocess.CompletedProcess, float]:
    return run([*mpirun_args(n), sys.executable, str(SCRIPTS / script), *args], timeout)


def assert_ok(p: subprocess.CompletedProcess, n: int) -> None:
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-4000:]
    for r in range(n):
        assert f"ok {r}" in p.stdout, out[-4000:]
