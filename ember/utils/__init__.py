"""torch.utils: data loading, and TensorBoard logging (imported lazily: it pulls in protobuf)."""

from ember.utils import data  # noqa: F401


def __getattr__(name: str):
    if name in ("tensorboard", "checkpoint"):
        import importlib

        return importlib.import_module(f"ember.utils.{name}")
    raise AttributeError(f"module 'ember.utils' has no attribute {name!r}")
