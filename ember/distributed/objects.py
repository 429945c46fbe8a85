"""Collectives on Python objects. An object travels as ember.save's bytes and is rebuilt with
ember.load(weights_only=True): tensors, containers, numbers and strings, never arbitrary code
(torch unpickles whatever arrives; ember's safe unpickler refuses other globals)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

import ember
from ember.distributed.checks import check_same, group_root
from ember.distributed.process_group import resolve
from ember.distributed.watchdog import run_blocking


def _dumps(obj: Any) -> np.ndarray:
    buf = io.BytesIO()
    ember.save(obj, buf)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def _loads(data: np.ndarray) -> Any:
    return ember.load(io.BytesIO(data.tobytes()), weights_only=True)


def _gatherv(pg, what: str, data: np.ndarray, root: int | None):
    """Every rank's bytes, on every rank (root None) or on `root` only (else None)."""
    n = pg.size()
    sizes = np.zeros(n, dtype=np.int64)
    mine = np.array([data.size], dtype=np.int64)
    run_blocking(pg, what, pg.comm.Allgather, mine, sizes)
    displs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    me = root is None or pg.rank() == root
    out = np.empty(int(sizes.sum()), dtype=np.uint8) if me else None
    spec = [out, (sizes.tolist(), displs.tolist())] if me else None
    if root is None:
        run_blocking(pg, what, pg.comm.Allgatherv, data, spec)
    else:
        run_blocking(pg, what, pg.comm.Gatherv, data, spec, root)
    if not me:
        return None
    return [out[d : d + s] for d, s in zip(displs, sizes)]


def _check_out(what: str, lst, n: int, name: str) -> None:
    if not isinstance(lst, list) or len(lst) != n:
        got = len(lst) if isinstance(lst, list) else type(lst).__name__
        raise ValueError(f"{what}: {name} must be a list of {n} elements (the group's size), got {got}")


def all_gather_object(object_list: list, obj: Any, group=None) -> None:
    """`object_list[i]` becomes rank i's `obj`."""
    pg = resolve(group)
    if pg is None:
        return
    _check_out("all_gather_object", object_list, pg.size(), "object_list")
    check_same(pg, "all_gather_object", "")
    for i, data in enumerate(_gatherv(pg, "all_gather_object", _dumps(obj), None)):
        object_list[i] = _loads(data)


def gather_object(
    obj: Any, object_gather_list: list | None = None, dst: int | None = None, group=None, group_dst=None
) -> None:
    """On rank `dst`, `object_gather_list[i]` becomes rank i's `obj`."""
    pg = resolve(group)
    if pg is None:
        return
    root = group_root(pg, "gather_object", dst, group_dst, "dst")
    if pg.rank() == root:
        _check_out("gather_object", object_gather_list, pg.size(), "object_gather_list")
    check_same(pg, "gather_object", f"dst={pg.ranks[root]}")
    parts = _gatherv(pg, "gather_object", _dumps(obj), root)
    if parts is not None:
        for i, data in enumerate(parts):
            object_gather_list[i] = _loads(data)


def broadcast_object_list(
    object_list: list, src: int | None = None, group=None, device=None, group_src=None
) -> None:
    """Every rank's `object_list` becomes (in place) rank `src`'s."""
    pg = resolve(group)
    if pg is None:
        return
    root = group_root(pg, "broadcast_object_list", src, group_src, "src")
    if not isinstance(object_list, list):
        raise TypeError(
            f"broadcast_object_list: object_list must be a list, got {type(object_list).__name__}"
        )
    check_same(pg, "broadcast_object_list", f"len={len(object_list)}, src={pg.ranks[root]}")
    me = pg.rank() == root
    data = _dumps(list(object_list)) if me else None
    size = np.array([data.size if me else 0], dtype=np.int64)
    run_blocking(pg, "broadcast_object_list", pg.comm.Bcast, size, root)
    if not me:
        data = np.empty(int(size[0]), dtype=np.uint8)
    run_blocking(pg, "broadcast_object_list", pg.comm.Bcast, data, root)
    if not me:
        object_list[:] = _loads(data)


def scatter_object_list(
    scatter_object_output_list: list,
    scatter_object_input_list: list | None = None,
    src: int | None = None,
    group=None,
    group_src=None,
) -> None:
    """Rank i's `scatter_object_output_list[0]` becomes `scatter_object_input_list[i]` of rank `src`."""
    pg = resolve(group)
    if pg is None:
        return
    root = group_root(pg, "scatter_object_list", src, group_src, "src")
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at least 1.")
    me = pg.rank() == root
    if me:
        _check_out("scatter_object_list", scatter_object_input_list, pg.size(), "scatter_object_input_list")
    check_same(pg, "scatter_object_list", f"src={pg.ranks[root]}")
    holder = [list(scatter_object_input_list) if me else None]
    broadcast_object_list(holder, src=pg.ranks[root], group=group)
    scatter_object_output_list[0] = holder[0][pg.rank()]
