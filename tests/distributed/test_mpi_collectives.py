"""Collectives, DDP and SyncBatchNorm under `mpirun -n 2` and `-n 3` (uneven splits): each script
checks its results against the same computation in one process and prints 'ok <rank>'."""

import pytest
from mpi_helpers import assert_ok, mpirun, needs_mpi

pytestmark = needs_mpi


@pytest.mark.parametrize("n", [2, 3])
def test_every_collective_matches_one_process(n):
    p, _ = mpirun(n, "collectives.py")
    assert_ok(p, n)


def test_ddp_training_equals_one_process_on_concatenated_batches():
    p, _ = mpirun(2, "ddp_train.py", "200")  # MLP 200 steps, LeNet 100 steps
    assert_ok(p, 2)


def test_sync_batchnorm_equals_batchnorm_on_the_whole_batch():
    p, _ = mpirun(3, "syncbn.py")
    assert_ok(p, 3)
