"""Padding layers (torch.nn.ReflectionPad2d, ZeroPad2d, ...) over F.pad."""

from __future__ import annotations

from ember.nn import functional as F
from ember.nn.modules.module import Module


class _PadNd(Module):
    _mode = "constant"
    _n = 2

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = (
            tuple(padding) if isinstance(padding, (tuple, list)) else (int(padding),) * (2 * self._n)
        )
        if len(self.padding) != 2 * self._n:
            raise ValueError(
                f"{type(self).__name__} expects {2 * self._n} padding values, got {len(self.padding)}"
            )

    def forward(self, input):
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


def _make(name: str, base: type, mode: str, n: int) -> type:
    doc = f"torch.nn.{name}: pad the last {n} dims ({mode})."
    return type(name, (base,), {"_mode": mode, "_n": n, "__doc__": doc, "__module__": __name__})


ReflectionPad1d = _make("ReflectionPad1d", _PadNd, "reflect", 1)
ReflectionPad2d = _make("ReflectionPad2d", _PadNd, "reflect", 2)
ReflectionPad3d = _make("ReflectionPad3d", _PadNd, "reflect", 3)
ReplicationPad1d = _make("ReplicationPad1d", _PadNd, "replicate", 1)
ReplicationPad2d = _make("ReplicationPad2d", _PadNd, "replicate", 2)
ReplicationPad3d = _make("ReplicationPad3d", _PadNd, "replicate", 3)
CircularPad1d = _make("CircularPad1d", _PadNd, "circular", 1)
CircularPad2d = _make("CircularPad2d", _PadNd, "circular", 2)
CircularPad3d = _make("CircularPad3d", _PadNd, "circular", 3)
ZeroPad1d = _make("ZeroPad1d", _PadNd, "constant", 1)
ZeroPad2d = _make("ZeroPad2d", _PadNd, "constant", 2)
ZeroPad3d = _make("ZeroPad3d", _PadNd, "constant", 3)
ConstantPad1d = _make("ConstantPad1d", _ConstantPadNd, "constant", 1)
ConstantPad2d = _make("ConstantPad2d", _ConstantPadNd, "constant", 2)
ConstantPad3d = _make("ConstantPad3d", _ConstantPadNd, "constant", 3)

__all__ = [
    "CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
    "ReplicationPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
]  # fmt: skip
