"""The in-place random Tensor methods (uniform_, normal_, random_, bernoulli_, exponential_,
geometric_, log_normal_, cauchy_), Tensor.bernoulli / multinomial, and torch.bernoulli,
torch.multinomial, torch.poisson: thin wrappers over ember._sampling, bound to Tensor in one table."""

from __future__ import annotations

import numpy as np

from ember import _backend, _sampling
from ember._tensor import Tensor
from ember.ops.inplace import fill_values

__all__ = ["bernoulli", "multinomial", "poisson"]


def _memory_order(arr) -> tuple[int, ...]:
    """Axes from slowest to fastest in memory: torch's serial kernels fill a strided tensor in
    memory order (TensorIterator sorts dimensions by stride)."""
    strides = [abs(s) for s in arr.strides]
    return tuple(sorted(range(arr.ndim), key=lambda i: -strides[i]))


def _fill_random(t: Tensor, sample) -> Tensor:
    """Write sample(shape, dtype, contiguous) into t's storage in torch's fill order."""
    arr = t._data
    contiguous = arr.flags.c_contiguous
    order = tuple(range(arr.ndim)) if contiguous else _memory_order(arr)
    shape = tuple(arr.shape[i] for i in order)
    values = sample(shape, arr.dtype, contiguous)
    if order != tuple(range(arr.ndim)):
        values = np.transpose(values, np.argsort(order))
    if _backend.of(arr) is not np:
        values = _backend.of(arr).asarray(values)
    return fill_values(t, values)


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    return _fill_random(self, lambda s, dt, c: _sampling.uniform(s, dt, a, b, generator))


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    return _fill_random(self, lambda s, dt, c: _sampling.normal(s, dt, mean, std, generator, contiguous=c))


_UNSET = object()


def random_(self: Tensor, *args, generator=None, **kwargs) -> Tensor:
    """random_(), random_(to), random_(from, to) (to=None: up to the dtype's largest value)."""
    frm = kwargs.pop("from", _UNSET)
    to = kwargs.pop("to", _UNSET)
    if kwargs:
        raise TypeError(f"random_() got an unexpected keyword argument '{next(iter(kwargs))}'")
    if len(args) == 2:
        frm, to = args
    elif len(args) == 1:
        if frm is _UNSET and to is _UNSET:
            frm, to = 0, args[0]
        else:
            frm = args[0]
    if frm is _UNSET and to is _UNSET:
        return _fill_random(self, lambda s, dt, c: _sampling.random_(s, dt, generator))
    frm = 0 if frm is _UNSET else frm
    to = None if to is _UNSET else to
    return _fill_random(self, lambda s, dt, c: _sampling.random_from_to(s, dt, frm, to, generator))


def bernoulli_(self: Tensor, p=0.5, *, generator=None) -> Tensor:
    if isinstance(p, Tensor):
        probs = _backend.to_numpy(p._data)
        return _fill_random(self, lambda s, dt, c: _sampling.bernoulli_tensor(s, dt, probs, generator))
    return _fill_random(self, lambda s, dt, c: _sampling.bernoulli_scalar(s, dt, float(p), generator))


def exponential_(self: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    return _fill_random(self, lambda s, dt, c: _sampling.exponential(s, dt, lambd, generator))


def geometric_(self: Tensor, p: float, *, generator=None) -> Tensor:
    return _fill_random(self, lambda s, dt, c: _sampling.geometric(s, dt, p, generator))


def log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *, generator=None) -> Tensor:
    return _fill_random(self, lambda s, dt, c: _sampling.log_normal(s, dt, mean, std, generator))


def cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator=None) -> Tensor:
    return _fill_random(self, lambda s, dt, c: _sampling.cauchy(s, dt, median, sigma, generator))


def bernoulli(input: Tensor, p=None, *, generator=None, out=None) -> Tensor:
    """torch.bernoulli(input): 1 with probability input[i]; bernoulli(input, p): with probability p."""
    probs = _backend.to_numpy(input._data)
    if p is None and ((probs < 0) | (probs > 1)).any():
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    res = Tensor._wrap(np.empty(probs.shape, dtype=probs.dtype))
    res.bernoulli_(input if p is None else p, generator=generator)
    if out is not None:
        return out.copy_(res)
    return res


def multinomial(
    input: Tensor, num_samples: int, replacement: bool = False, *, generator=None, out=None
) -> Tensor:
    """torch.multinomial: indices drawn from the rows of `input` (probabilities, not normalised)."""
    idx = _sampling.multinomial(
        _backend.to_numpy(input._data), int(num_samples), bool(replacement), generator
    )
    res = Tensor._wrap(idx)
    if out is not None:
        return out.copy_(res)
    return res


def poisson(input: Tensor, generator=None) -> Tensor:
    """torch.poisson: a Poisson sample of each rate, in the rates' dtype."""
    return Tensor._wrap(_sampling.poisson(_backend.to_numpy(input._data), generator))


def bernoulli_method(self: Tensor, p=None, *, generator=None) -> Tensor:
    return bernoulli(self, p, generator=generator)
