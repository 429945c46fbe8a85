"""``ember info``: version, NumPy backend (BLAS, threads) and GPU availability."""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
from contextlib import redirect_stdout
from typing import Any

import numpy as np

import ember


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="print ember/NumPy versions, the BLAS library, thread count and GPU availability",
        description="Print ember's version, the NumPy backend (version, BLAS/LAPACK, threads) and whether a "
        "CUDA GPU is usable through CuPy.",
    )
    p.set_defaults(func=run)


def blas_info() -> str:
    """BLAS library as numpy.show_config reports it, e.g. 'scipy-openblas 0.3.27 (openblas64_)'."""
    try:
        cfg: Any = np.show_config(mode="dicts")
    except TypeError:  # NumPy < 1.25 has no mode=
        buf = io.StringIO()
        with redirect_stdout(buf):
            np.show_config()
        lines = [ln.strip() for ln in buf.getvalue().splitlines() if "libraries" in ln or "name" in ln]
        return "; ".join(lines[:2]) or "unknown"
    deps = (cfg or {}).get("Build Dependencies", {})
    blas = deps.get("blas", {})
    parts = [str(blas.get("name", "unknown"))]
    if blas.get("version"):
        parts.append(str(blas["version"]))
    extra = blas.get("openblas configuration")
    return " ".join(parts) + (f" ({extra})" if extra else "")


def thread_info() -> str:
    parts = [f"{os.cpu_count()} CPUs"]
    if hasattr(os, "sched_getaffinity"):
        parts.append(f"{len(os.sched_getaffinity(0))} usable")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var):
            parts.append(f"{var}={os.environ[var]}")
    try:
        from threadpoolctl import threadpool_info

        pools = [f"{p.get('internal_api')}: {p.get('num_threads')} threads" for p in threadpool_info()]
        parts += pools
    except ImportError:
        pass
    return ", ".join(parts)


def gpu_info() -> str:
    if not ember.cuda.is_available():
        return "not available (CuPy missing or no CUDA GPU visible)"
    names = [ember.cuda.get_device_name(i) for i in range(ember.cuda.device_count())]
    import cupy

    return f"available: {ember.cuda.device_count()} device(s) {names}, CuPy {cupy.__version__}"


def run(args: argparse.Namespace) -> int:
    rows = [
        ("ember", f"{ember.__version__} ({os.path.dirname(ember.__file__)})"),
        ("python", f"{platform.python_version()} ({sys.executable})"),
        ("platform", platform.platform()),
        ("numpy", np.__version__),
        ("BLAS", blas_info()),
        ("threads", thread_info()),
        ("default dtype", str(ember.get_default_dtype())),
        ("cuda", gpu_info()),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0
