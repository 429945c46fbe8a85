"""Faults a careless user or a crash produces: interrupted saves, dropped SummaryWriters, killed
DataLoader workers. Each test fails on the code before issue #12's fixes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import ember
from ember.utils.data import DataLoader, Dataset

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- ember.save killed mid-write -----------------------------------------------------------------
_KILLED_SAVE = """
    import os, signal, sys
    import ember
    def die(fd):  # the process is killed after writing the data, before the rename
        os.kill(os.getpid(), signal.SIGKILL)
    os.fsync = die
    ember.save({"w": ember.ones(1000)}, sys.argv[1])
"""


def _temps(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.endswith(".tmp"))


def test_killed_saves_leave_temps_that_the_next_save_removes(tmp_path):
    target = tmp_path / "model.pt"
    ember.save({"w": ember.zeros(3)}, target)
    for _ in range(3):
        assert _run(_KILLED_SAVE, str(target)).returncode == -signal.SIGKILL
    assert len(_temps(tmp_path)) == 3  # what the kills left
    assert ember.load(target)["w"].tolist() == [0.0, 0.0, 0.0]  # the old checkpoint is intact
    ember.save({"w": ember.zeros(3)}, target)
    assert _temps(tmp_path) == []
    for _ in range(2):
        assert _run(_KILLED_SAVE, str(target)).returncode == -signal.SIGKILL
    # files the cleanup must never touch: other checkpoints, other targets' temps, a live writer's temp
    (tmp_path / "model.pt.bak").write_bytes(target.read_bytes())
    other = tmp_path / ".other.pt.x.tmp"
    other.write_bytes(b"x")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        host = ember.serialization._HOST
        live = tmp_path / f".model.pt.ember-{host}-{sleeper.pid}-0123abcd.tmp"
        live.write_bytes(b"in progress")
        ember.save({"w": ember.ones(2)}, target)
        assert _temps(tmp_path) == sorted([other.name, live.name])
    finally:
        sleeper.kill()
        sleeper.wait()
    assert ember.load(target)["w"].tolist() == [1.0, 1.0]
    assert ember.load(tmp_path / "model.pt.bak")["w"].tolist() == [0.0, 0.0, 0.0]
    ember.save({"w": ember.ones(1)}, target)  # the writer is gone now: its temp goes too
    assert _temps(tmp_path) == [other.name]


# -- SummaryWriter dropped without close() ---------------------------------------------------------
_DROPPED_WRITER = """
    import sys
    from ember.utils.tensorboard import SummaryWriter
    def log():
        w = SummaryWriter(sys.argv[1])
        for i in range(60):
            w.add_scalar("loss", float(i), i)
    log()  # the writer is garbage the moment log() returns; the script then exits
"""


def test_summary_writer_dropped_without_close_keeps_every_scalar(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for run in range(2):
        logdir = tmp_path / f"run{run}"
        proc = _run(_DROPPED_WRITER, str(logdir))
        assert proc.returncode == 0, proc.stderr
        acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
        acc.Reload()
        assert [e.value for e in acc.Scalars("loss")] == [float(i) for i in range(60)]


def _async_writer_closed(event_writer) -> bool:
    return event_writer._async_writer._closed  # tensorboard's writer thread: closed = flushed


def test_summary_writer_is_flushed_and_closed_when_garbage_collected(tmp_path):
    pytest.importorskip("tensorboard")
    import gc

    from ember.utils.tensorboard import SummaryWriter

    w = SummaryWriter(tmp_path, flush_secs=1000, max_queue=1000)
    w.add_scalar("x", 1.0, 0)
    w.add_scalars("pair", {"a": 1.0, "b": 2.0}, 0)
    event_writers = [fw.event_writer for fw in w.all_writers.values()]
    assert len(event_writers) == 3 and not any(map(_async_writer_closed, event_writers))
    del w
    gc.collect()
    assert all(map(_async_writer_closed, event_writers))


def test_file_writer_is_flushed_and_closed_when_garbage_collected(tmp_path):
    pytest.importorskip("tensorboard")
    import gc

    from ember.utils.tensorboard.writer import FileWriter

    fw = FileWriter(tmp_path, max_queue=1000, flush_secs=1000)
    event_writer = fw.event_writer
    del fw
    gc.collect()
    assert _async_writer_closed(event_writer)


# -- DataLoader worker killed -----------------------------------------------------------------------
class _Slow(Dataset):
    def __len__(self) -> int:
        return 100_000

    def __getitem__(self, i: int):
        time.sleep(0.01)
        return ember.tensor([float(i)])


@pytest.mark.parametrize("timeout,limit_s", [(20, 5.0), (0, 0.9)])
def test_killed_worker_is_reported_at_once(timeout, limit_s):
    loader = DataLoader(_Slow(), batch_size=2, num_workers=2, timeout=timeout)
    it = iter(loader)
    next(it)
    victim = it._workers[0].pid
    os.kill(victim, signal.SIGKILL)
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=rf"DataLoader worker \(pid\(s\) {victim}\) exited unexpectedly"):
        for _ in range(10_000):
            next(it)
    took = time.perf_counter() - start
    assert took < limit_s, f"the error came {took:.2f} s after the kill"
