"""Run under mpirun -n 2 with one mode: rank 1 misbehaves while rank 0 waits in a collective.
kill: rank 1 is killed; raise: rank 1 raises; late: rank 1 joins after the init timeout;
stall: rank 1 stops taking part after init (the collective times out)."""

import datetime
import os
import signal
import sys
import time

import ember as torch
import ember.distributed as dist

mode = sys.argv[1]
rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
if mode == "late" and rank == 1:
    time.sleep(60)
dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=5))
dist.barrier()
if rank == 1:
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "raise":
        raise ValueError("rank 1 fails on purpose")
    if mode == "stall":
        time.sleep(60)
t = torch.ones(1000)
dist.all_reduce(t)  # rank 0 waits here for rank 1
print("all_reduce finished: the fault was not noticed", flush=True)
