"""What `ember run` starts on every rank: torchrun's environment variables from the MPI launcher's,
then the user's script; a failure on one rank ends the whole job with the rank named.

    python -m ember.distributed.worker [-m] script.py|module args...
"""

from __future__ import annotations

import os
import runpy
import sys
import traceback


def set_torchrun_env(environ=os.environ) -> None:
    """RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE (and MASTER_ADDR/PORT defaults) as torchrun
    sets them, from Open MPI's OMPI_COMM_WORLD_* (or PMI_RANK/PMI_SIZE of other MPIs)."""
    pairs = (
        ("RANK", ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK")),
        ("WORLD_SIZE", ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")),
        ("LOCAL_RANK", ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID")),
        ("LOCAL_WORLD_SIZE", ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS")),
    )
    for name, sources in pairs:
        for s in sources:
            if environ.get(s):
                environ[name] = environ[s]
                break
    environ.setdefault("MASTER_ADDR", "127.0.0.1")
    environ.setdefault("MASTER_PORT", "29500")
    if "LOCAL_WORLD_SIZE" in environ and "RANK" in environ:
        environ.setdefault(
            "GROUP_RANK", str(int(environ["RANK"]) // max(int(environ["LOCAL_WORLD_SIZE"]), 1))
        )


def _abort_job(message: str, code: int) -> None:
    rank = os.environ.get("RANK", "?")
    sys.stderr.write(f"ember run: rank {rank}: {message}; ending the job\n")
    sys.stderr.flush()
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
        mpi.COMM_WORLD.Abort(code)  # the other ranks may be waiting in a collective: end them too
    os._exit(code)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_module = bool(argv) and argv[0] in ("-m", "--module")
    if as_module:
        argv = argv[1:]
    if not argv:
        sys.exit("usage: python -m ember.distributed.worker [-m] script.py|module args...")
    set_torchrun_env()
    target = argv[0]
    sys.argv = argv
    try:
        if as_module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if code:
            if not isinstance(e.code, int):
                sys.stderr.write(f"{e.code}\n")
            _abort_job(f"exited with status {code}", code)
        raise
    except BaseException as e:  # noqa: B036 (any failure of the user's script ends the job)
        traceback.print_exc()
        _abort_job(f"failed with {type(e).__name__}: {e}", 1)


if __name__ == "__main__":
    main()
