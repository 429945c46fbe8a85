"""torch.multiprocessing: the standard `multiprocessing` API, with tensors sent between
processes through shared memory (see reductions.py), sharing strategies and `spawn`."""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing import *  # noqa: F401,F403

from ember import _shared
from ember.multiprocessing.reductions import init_reductions
from ember.multiprocessing.spawn import (  # noqa: F401
    ProcessContext,
    ProcessException,
    ProcessExitedException,
    ProcessRaisedException,
    spawn,
    start_processes,
)

__all__ = ["get_all_sharing_strategies", "get_sharing_strategy", "set_sharing_strategy"]
__all__ += multiprocessing.__all__  # type: ignore[attr-defined]

_all_sharing_strategies = (
    {"file_descriptor", "file_system"} if hasattr(os, "memfd_create") else {"file_system"}
)


def set_sharing_strategy(new_strategy: str) -> None:
    """'file_descriptor' (memfd handles passed as descriptors, the Linux default) or
    'file_system' (named POSIX shared-memory files)."""
    if new_strategy not in _all_sharing_strategies:
        raise AssertionError(
            f"invalid sharing strategy {new_strategy!r}, expected one of {_all_sharing_strategies}"
        )
    _shared.STRATEGY[0] = new_strategy


def get_sharing_strategy() -> str:
    return _shared.STRATEGY[0]


def get_all_sharing_strategies() -> set[str]:
    return _all_sharing_strategies


init_reductions()
