"""torch.utils: data loading, and TensorBoard logging (imported lazily: it pulls in protobuf)."""

from ember.utils import data  # noqa: F401


def __getattr__(name: str):
    if name == "tensorboard":
        import importlib

        return importlib.import_module("ember.utils.tensorboard")
    raise AttributeError(f"module 'ember.utils' has no attribute {name!r}")
