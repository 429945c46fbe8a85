"""Runs one workload with one library in this process and prints a JSON line of timings."""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def main() -> None:
    lib_name, workload = sys.argv[1], sys.argv[2]
    threads = int(os.environ.get("BENCH_THREADS", "2"))
    t0 = time.perf_counter()
    if workload == "import":
        __import__(lib_name)
        print(json.dumps({"times": [time.perf_counter() - t0], "unit": "s", "maxrss_mb": 0}))
        return
    lib = __import__(lib_name)
    if lib_name == "torch":
        lib.set_num_threads(threads)
    sys.path.insert(0, os.path.dirname(__file__))
    from workloads import WORKLOADS

    make, unit, iters, repeats = WORKLOADS[workload]
    step = make(lib)
    step()  # warm-up
    scale = 1e6 if unit.startswith("us") else 1.0
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(iters):
            step()
        times.append((time.perf_counter() - t) / iters * scale)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"times": times, "unit": unit, "maxrss_mb": rss}))


if __name__ == "__main__":
    main()
