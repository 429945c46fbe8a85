"""The one hook handle (torch.utils.hooks.RemovableHandle): every `register_*_hook` of tensors,
graph nodes, modules and optimizers keeps its hooks in a dict and returns one of these."""

from __future__ import annotations

import itertools

_ids = itertools.count()


class RemovableHandle:
    """`.remove()` unregisters the hook; usable as a context manager."""

    __slots__ = ("hooks_dict_ref", "id")

    def __init__(self, hooks_dict: dict) -> None:
        self.hooks_dict_ref = hooks_dict
        self.id = next(_ids)

    def remove(self) -> None:
        self.hooks_dict_ref.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def add_hook(hooks: dict, hook, prepend: bool = False) -> RemovableHandle:
    """Insert `hook` into an ordered hooks dict (first when `prepend`) and return its handle."""
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        for k in [k for k in hooks if k != handle.id]:
            hooks[k] = hooks.pop(k)
    return handle
