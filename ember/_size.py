"""torch.Size: a tuple that prints as `torch.Size([2, 3])`."""

from __future__ import annotations


class Size(tuple):
    __slots__ = ()

    def __new__(cls, seq=()):
        return super().__new__(cls, (int(s) for s in seq))

    def __repr__(self) -> str:
        return f"torch.Size([{', '.join(map(str, self))}])"

    __str__ = __repr__

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, k):
        r = super().__getitem__(k)
        return Size(r) if isinstance(k, slice) else r

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))
