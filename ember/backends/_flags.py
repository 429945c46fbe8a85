"""Module-attribute flags with torch's validation (`torch.backends.cudnn.benchmark = 3` raises)."""

from __future__ import annotations

import contextlib
import sys
import types


def bool_flag(name: str, setter: str):
    """A property on a module class: reads/writes `_state[name]`, accepts only bool."""

    def get(mod):
        return mod._state[name]

    def put(mod, value) -> None:
        if not isinstance(value, bool):
            raise RuntimeError(f"{setter} expects a bool, but got {type(value).__name__}")
        mod._state[name] = value

    return property(get, put)


def install(module_name: str, cls: type) -> None:
    """Give the module `module_name` the flag properties of `cls` (a ModuleType subclass)."""
    sys.modules[module_name].__class__ = cls


@contextlib.contextmanager
def set_flags(mod: types.ModuleType, **values):
    """Set some flags for the duration of a with-block, restoring the old values after."""
    old = {k: getattr(mod, k) for k in values}
    try:
        for k, v in values.items():
            setattr(mod, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(mod, k, v)
