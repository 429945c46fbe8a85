"""torch.func.functional_call: run a module with some parameters and buffers replaced by given
tensors for one call (gradients flow to the given tensors, not to the module's own)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from ember import Tensor
from ember.nn.modules.module import Module

__all__ = ["functional_call"]


def _owner(module: Module, dotted: str) -> tuple[Module, str]:
    *path, attr = dotted.split(".")
    for p in path:
        module = getattr(module, p)
    return module, attr


@contextlib.contextmanager
def _reparametrize(module: Module, tensors: dict[str, Tensor], tie_weights: bool, strict: bool):
    names = dict(module.named_parameters(remove_duplicate=False))
    names.update(dict(module.named_buffers(remove_duplicate=False)))
    if strict:
        missing = [k for k in names if k not in tensors]
        unexpected = [k for k in tensors if k not in names]
        if missing or unexpected:
            errs = []
            if unexpected:
                errs.append("Unexpected key(s): " + ", ".join(repr(k) for k in unexpected) + ".")
            if missing:
                errs.append("Missing key(s): " + ", ".join(repr(k) for k in missing) + ".")
            raise RuntimeError(
                f"Error(s) in reparametrizing for {type(module).__name__}:\n\t" + "\n\t".join(errs)
            )
    if tie_weights:  # a tensor given for one name of a tied parameter replaces all its names
        by_id = {id(names[k]): v for k, v in tensors.items() if k in names}
        tensors = {**{k: by_id[id(t)] for k, t in names.items() if id(t) in by_id}, **tensors}
    saved = []
    try:
        for name, value in tensors.items():
            owner, attr = _owner(module, name)
            for store in ("_parameters", "_buffers"):
                d = owner.__dict__[store]
                if attr in d:
                    saved.append((d, attr, d[attr]))
                    d[attr] = value
                    break
            else:
                saved.append((owner.__dict__, attr, _ABSENT))
                owner.__dict__[attr] = value
        yield
    finally:
        for d, attr, old in reversed(saved):
            if old is _ABSENT:
                d.pop(attr, None)
            else:
                d[attr] = old


_ABSENT = object()


def functional_call(
    module: Module,
    parameter_and_buffer_dicts: Mapping[str, Tensor] | Sequence[Mapping[str, Tensor]],
    args: Any = None,
    kwargs: dict[str, Any] | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Any:
    """module(*args, **kwargs) with the named parameters/buffers replaced by the given tensors."""
    if isinstance(parameter_and_buffer_dicts, Mapping):
        tensors = dict(parameter_and_buffer_dicts)
    else:
        tensors = {}
        seen: list[str] = []
        for d in parameter_and_buffer_dicts:
            seen += [k for k in d if k in tensors]
            tensors.update(d)
        if seen:
            raise ValueError(
                f"{seen} appeared in multiple dictionaries; behavior of functional call is ambiguous"
            )
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _reparametrize(module, tensors, tie_weights, strict):
        return module(*args, **(kwargs or {}))
