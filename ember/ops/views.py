"""Views: tensors that share their base's memory and version counter (basic indexing, view,
reshape when possible, transpose, expand, ...), and how an in-place op on one re-derives it."""

from __future__ import annotations

from ember._backend import of


def as_view(out, base, fn=None):
    """Mark `out` as a view of `base`: same version counter, `_base` set to the root tensor, and
    `_view_fn` re-deriving it from the root (used by in-place ops on views, torch's CopySlices)."""
    if of(out._data).may_share_memory(out._data, base._data):
        out._version_counter = base._version_counter
        root = base._base if base._base is not None else base
        out._base = root
        prev = view_fn_of(base) if base._base is not None else None
        if fn is not None and prev is not None:
            out.__dict__["_view_fn"] = lambda r, f=fn, p=prev: f(p(r))
        elif fn is not None:
            out.__dict__["_view_fn"] = fn
        elif base._base is not None and prev is None:
            out.__dict__["_view_fn"] = None
        out._view_key = None
    return out


def view_fn_of(t):
    """The function re-deriving view `t` from its root base (torch's view_fn), or None."""
    d = t.__dict__
    if "_view_fn" in d:
        return d["_view_fn"]
    k = getattr(t, "_view_key", None)
    return None if k is None else (lambda r, k=k: r[k])
