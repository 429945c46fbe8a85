"""torch.backends.opt_einsum: contraction-order optimisation for einsum, with torch's defaults
(`enabled` is True when the opt_einsum package imports). ember's einsum always lets NumPy
choose the contraction order for three or more operands, so the flags are recorded only."""

from __future__ import annotations

import sys
import types


def is_available() -> bool:
    """True when the opt_einsum package imports (torch's test)."""
    try:
        import opt_einsum  # noqa: F401
    except Exception:
        return False
    return True


def get_opt_einsum():
    """The opt_einsum module, or None."""
    try:
        import opt_einsum
    except Exception:
        return None
    return opt_einsum


_STRATEGIES = ("auto", "greedy", "optimal")


class _OptEinsumModule(types.ModuleType):
    @property
    def enabled(self) -> bool:
        return _state["enabled"]

    @enabled.setter
    def enabled(self, value) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"enabled expects a bool, but got {type(value).__name__}")
        _state["enabled"] = value

    @property
    def strategy(self):
        return _state["strategy"] if _state["enabled"] else None

    @strategy.setter
    def strategy(self, value) -> None:
        if not _state["enabled"]:
            raise ValueError(
                "opt_einsum is not enabled, so setting a `strategy` will not have any effect. Please "
                "set `torch.backends.opt_einsum.enabled = True` to use opt_einsum."
            )
        if value not in _STRATEGIES:
            raise ValueError(
                f"`strategy` must be one of the following: [auto, greedy, optimal] but is {value}"
            )
        _state["strategy"] = value


_state = {"enabled": is_available(), "strategy": "auto"}


sys.modules[__name__].__class__ = _OptEinsumModule
