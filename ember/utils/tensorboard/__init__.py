"""torch.utils.tensorboard: SummaryWriter on the optional `tensorboard` package
(`pip install ember[tensorboard]` or `pip install tensorboard`)."""

from __future__ import annotations

_MISSING = (
    "ember.utils.tensorboard needs the 'tensorboard' package, which is not installed or failed to "
    "import ({err}). Install it with `pip install tensorboard` (or `pip install ember[tensorboard]`)."
)

try:
    from ember.utils.tensorboard.writer import FileWriter, SummaryWriter
except ImportError as _e:  # tensorboard (or its protobuf dependency) is missing
    if (_e.name or "").split(".")[0] not in ("tensorboard", "google"):
        raise
    _err = _e

    class SummaryWriter:  # type: ignore[no-redef]
        """Stand-in that explains which package to install."""

        def __init__(self, *args, **kwargs) -> None:
            raise ImportError(_MISSING.format(err=_err)) from _err

    FileWriter = SummaryWriter  # type: ignore[misc]

__all__ = ["FileWriter", "SummaryWriter"]
