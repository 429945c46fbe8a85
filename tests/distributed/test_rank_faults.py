"""Faults end the job with an error naming the rank, within a bounded time, never a hang."""

import pytest
from mpi_helpers import mpirun, needs_mpi

pytestmark = needs_mpi

BOUND = 40  # seconds; each case would otherwise hang (rank 1 sleeps 60 s or is gone)


@pytest.mark.parametrize(
    "mode, message",
    [
        ("kill", "rank 1 with PID"),  # mpirun's own report: "process rank 1 with PID ... exited on signal 9"
        ("raise", "rank 1: raised ValueError: rank 1 fails on purpose"),
        ("late", "in _wait_for_all_ranks_to_start_mpi"),  # faulthandler's report
        ("stall", "all_reduce (collective #"),
    ],
)
def test_fault_ends_the_job_with_an_error(mode, message):
    p, took = mpirun(2, "faults.py", mode, timeout=BOUND + 20)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out[-3000:]
    assert "the fault was not noticed" not in out
    assert message in out, out[-3000:]
    assert took < BOUND, f"{mode}: took {took:.1f} s"
    if mode in ("late", "stall"):
        assert "Timeout (0:00:05)!" in out or "within 0:00:05" in out, out[-3000:]  # init's timeout=
