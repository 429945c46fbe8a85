"""ember/_malloc.py: glibc's thresholds set at import, and the ways to opt out."""

import ctypes
import subprocess
import sys

import pytest

from ember import _malloc


def _glibc() -> bool:
    try:
        return hasattr(ctypes.CDLL(None), "mallopt") and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")
    except OSError:
        return False


@pytest.mark.skipif(not _glibc(), reason="needs glibc (mallopt)")
def test_configure_applies_on_glibc(monkeypatch):
    monkeypatch.delenv("EMBER_MALLOC", raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert _malloc.configure() is True


@pytest.mark.parametrize(
    "env", [{"EMBER_MALLOC": "0"}, {"MALLOC_TRIM_THRESHOLD_": "1000"}, {"MALLOC_MMAP_THRESHOLD_": "1"}]
)
def test_user_settings_win(monkeypatch, env):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert _malloc.configure() is False


@pytest.mark.skipif(not _glibc(), reason="needs glibc (mallopt)")
def test_freed_arrays_stay_mapped_after_import():
    """A step that allocates ten 4 MB arrays and frees them all: with the thresholds set the
    next step reuses the pages (almost no new faults); glibc's defaults trim the 40 MB heap
    top after each step and fault every page in again."""
    code = (
        "import resource, numpy as np, ember\n"
        "def step():\n"
        "    arrays = [np.ones(1 << 20, np.float32) for _ in range(10)]\n"
        "    del arrays\n"
        "step()\n"
        "f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(10):\n"
        "    step()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)\n"
    )

    def faults(env):
        import os

        e = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        e.update(env)
        return int(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=e, check=True
            ).stdout
        )

    assert faults({}) < 1000
    assert faults({"EMBER_MALLOC": "0"}) > 10 * 5000  # 10 steps x 10,240 pages
