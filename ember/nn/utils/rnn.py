"""torch.nn.utils.rnn: PackedSequence and the pack / pad helpers.

A PackedSequence holds the time steps of a batch of sequences sorted by decreasing length,
step after step: `data` is (sum(lengths), *), `batch_sizes[t]` the number of sequences still
running at step t. Conversions to and from the padded (T, B, *) layout are one gather each
(differentiable), with index maps built on the host from `batch_sizes`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

import ember
from ember._tensor import Tensor

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]


class PackedSequence_(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(PackedSequence_):
    """Holds the data and `batch_sizes` of a packed batch; build it with pack_padded_sequence
    or pack_sequence, never by hand."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        elif batch_sizes.device.type != "cpu":
            raise ValueError(
                "batch_sizes should always be on CPU. Instances of PackedSequence should never be created "
                "manually. They should be instantiated by functions like pack_sequence and "
                "pack_padded_sequences in nn.utils.rnn. "
                "https://pytorch.org/docs/stable/nn.html#torch.nn.utils.rnn.pack_sequence"
            )
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = lambda t: None if t is None else t.to(data.device)  # noqa: E731
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def cuda(self, *args, **kwargs) -> PackedSequence:
        return self.to("cuda")

    def cpu(self, *args, **kwargs) -> PackedSequence:
        return self.to("cpu")

    def double(self) -> PackedSequence:
        return self.to(dtype=ember.float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=ember.float32)

    def half(self) -> PackedSequence:
        return self.to(dtype=ember.float16)

    def long(self) -> PackedSequence:
        return self.to(dtype=ember.int64)

    def int(self) -> PackedSequence:
        return self.to(dtype=ember.int32)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    if permutation is None:
        return None
    p = permutation._data
    out = np.empty_like(np.asarray(p))
    out[np.asarray(p)] = np.arange(p.size, dtype=out.dtype)
    return ember.tensor(out, dtype=permutation.dtype, device=permutation.device)


def _host(x) -> np.ndarray:
    return np.asarray(x._data if isinstance(x, Tensor) else x)


def packed_index(batch_sizes: np.ndarray, B: int) -> np.ndarray:
    """Row of each packed element in the flattened (T * B) padded layout."""
    T = len(batch_sizes)
    active = np.arange(B)[None, :] < batch_sizes[:, None]
    return np.flatnonzero(active.reshape(T * B))


def padded_from_packed(data: Tensor, batch_sizes, total_length: int, padding_value: float = 0.0) -> Tensor:
    """(sum(lengths), *) packed data -> (total_length, B, *) padded, time-major, one gather."""
    bs = _host(batch_sizes).astype(np.int64)
    B = int(bs[0]) if bs.size else 0
    N = data.shape[0]
    pad_row = ember.full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    src = np.full(total_length * B, N, dtype=np.int64)  # padding positions read the pad row
    src[packed_index(bs, B)] = np.arange(N)
    ext = ember.cat([data, pad_row], 0)
    return ext[ember.tensor(src, device=data.device)].view(total_length, B, *data.shape[1:])


def packed_from_padded(padded: Tensor, batch_sizes) -> Tensor:
    """(T, B, *) padded, time-major -> (sum(lengths), *) packed data, one gather."""
    bs = _host(batch_sizes).astype(np.int64)
    T, B = padded.shape[0], padded.shape[1]
    flat = padded.reshape(T * B, *padded.shape[2:])
    return flat[ember.tensor(packed_index(bs, B), device=padded.device)]


def pack_padded_sequence(
    input: Tensor, lengths, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *)) of sequences with the given lengths."""
    lens = _host(lengths).astype(np.int64).reshape(-1)
    sorted_indices = None
    if not enforce_sorted:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_indices = ember.tensor(order, dtype=ember.int64, device=input.device)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if batch_first:
        input = input.transpose(0, 1)
    T, B = input.shape[0], input.shape[1]
    if lens.size != B:
        raise RuntimeError(
            f"Expected `len(lengths)` to be equal to batch_size, but got {lens.size} (batch_size={B})"
        )
    if lens.size and np.any(lens[:-1] < lens[1:]):
        raise RuntimeError(
            "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You can pass "
            "`enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep this "
            "requirement if you do not need ONNX exportability."
        )
    if lens.size and lens[-1] <= 0:
        raise RuntimeError(
            "Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0"
        )
    if lens.size and lens[0] > T:
        raise RuntimeError(f"a sequence length ({lens[0]}) exceeds the padded length ({T})")
    bs = (lens[None, :] > np.arange(int(lens[0]) if lens.size else 0)[:, None]).sum(1).astype(np.int64)
    data = packed_from_padded(input, bs)
    return PackedSequence(data, ember.tensor(bs, dtype=ember.int64), sorted_indices, None)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Inverse of pack_padded_sequence: (padded batch, lengths) in the original batch order."""
    bs = _host(sequence.batch_sizes).astype(np.int64)
    max_len = len(bs)
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in input, but got "
                f"total_length={total_length} and max sequence length being {max_len}"
            )
        max_len = total_length
    padded = padded_from_packed(sequence.data, bs, max_len, padding_value)
    B = int(bs[0]) if bs.size else 0
    lengths = (bs[:, None] > np.arange(B)[None, :]).sum(0).astype(np.int64)
    if batch_first:
        padded = padded.transpose(0, 1)
    lengths_t = ember.tensor(lengths, dtype=ember.int64)
    if sequence.unsorted_indices is not None:
        un = sequence.unsorted_indices
        return padded.index_select(0 if batch_first else 1, un), lengths_t[un.cpu()]
    return padded, lengths_t


def pad_sequence(
    sequences, batch_first: bool = False, padding_value: float = 0.0, padding_side: str = "right"
) -> Tensor:
    """Stack sequences of shapes (L_i, *) into (max L, B, *) (or (B, max L, *)), padded."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError(
            f"pad_sequence: Expected iterable for input sequences, but got arg of type: {type(sequences)}"
        )
    seqs = list(sequences.unbind(0) if isinstance(sequences, Tensor) else sequences)
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    max_len = max(s.shape[0] for s in seqs)
    trail = tuple(seqs[0].shape[1:])
    rows = []
    for s in seqs:
        if tuple(s.shape[1:]) != trail:
            for d, (a, b) in enumerate(zip(s.shape[1:], trail)):
                if a != b:
                    raise RuntimeError(
                        f"The size of tensor a ({b}) must match the size of tensor b ({a}) at non-singleton "
                        f"dimension {d + 1}"
                    )
            raise RuntimeError(
                f"sequences have different trailing shapes {list(trail)} and {list(s.shape[1:])}"
            )
        n = max_len - s.shape[0]
        if n:
            pad = ember.full((n, *trail), padding_value, dtype=s.dtype, device=s.device)
            s = ember.cat([s, pad] if padding_side == "right" else [pad, s], 0)
        rows.append(s)
    return ember.stack(rows, 0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor, batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch back into a list of sequences of the given lengths."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[: int(n)] for seq, n in zip(padded_sequences, _host(lengths).reshape(-1), strict=True)]


def pack_sequence(sequences: list[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of (L_i, *) sequences."""
    lengths = [v.size(0) for v in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """Inverse of pack_sequence: the list of sequences in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
