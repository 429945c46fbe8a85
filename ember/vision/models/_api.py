"""torchvision.models._api: Weights / WeightsEnum, the model registry, get_model and friends."""

from __future__ import annotations

import enum
import functools
import importlib
import inspect
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import ember
import ember.hub

__all__ = [
    "Weights",
    "WeightsEnum",
    "register_model",
    "get_model",
    "get_model_builder",
    "get_model_weights",
    "get_weight",
    "list_models",
]


@dataclass
class Weights:
    """A checkpoint's url, the callable building its preprocessing, and its metadata (categories, ...)."""

    url: str
    transforms: Callable
    meta: dict[str, Any]

    def __eq__(self, other: Any) -> bool:
        # functools.partial has no value equality; compare its parts so enum lookups by value work
        if not isinstance(other, Weights):
            return NotImplemented
        if self.url != other.url or self.meta != other.meta:
            return False
        a, b = self.transforms, other.transforms
        if isinstance(a, functools.partial) and isinstance(b, functools.partial):
            return a.func == b.func and a.args == b.args and a.keywords == b.keywords
        return a == b

    def __hash__(self) -> int:
        return hash(self.url)


class WeightsEnum(enum.Enum):
    """Base of every ``<Model>_Weights`` enum; members hold a ``Weights`` value."""

    @classmethod
    def verify(cls, obj: Any) -> Any:
        if obj is not None:
            if type(obj) is str:
                obj = cls[obj.replace(cls.__name__ + ".", "")]
            elif not isinstance(obj, cls):
                raise TypeError(
                    f"Invalid Weight class provided; expected {cls.__name__} but received {obj.__class__.__name__}."
                )
        return obj

    def get_state_dict(self, *args: Any, **kwargs: Any) -> Mapping[str, Any]:
        """The checkpoint from the hub cache (downloaded when missing), as ``torch.hub`` does."""
        return ember.hub.load_state_dict_from_url(self.url, *args, **kwargs)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}.{self._name_}"

    @property
    def url(self) -> str:
        return self.value.url

    @property
    def transforms(self) -> Callable:
        return self.value.transforms

    @property
    def meta(self) -> dict[str, Any]:
        return self.value.meta


BUILTIN_MODELS: dict[str, Callable] = {}
M = TypeVar("M", bound=Callable)


def register_model(name: str | None = None) -> Callable[[M], M]:
    """Decorator adding a model builder to the registry under ``name`` (default: the function's name)."""

    def wrapper(fn: M) -> M:
        key = name if name is not None else fn.__name__
        if key in BUILTIN_MODELS:
            raise ValueError(f"An entry is already registered under the name '{key}'.")
        BUILTIN_MODELS[key] = fn
        return fn

    return wrapper


def list_models(
    module: Any = None, include: str | list[str] | None = None, exclude: str | list[str] | None = None
) -> list[str]:
    """Sorted names of the registered models, optionally only those of ``module`` and matching the
    ``include`` / not matching the ``exclude`` fnmatch patterns."""
    import fnmatch

    all_models = {
        k
        for k, v in BUILTIN_MODELS.items()
        if module is None or v.__module__.rsplit(".", 1)[0] == module.__name__
    }
    if include:
        models: set[str] = set()
        for pattern in [include] if isinstance(include, str) else include:
            models |= set(fnmatch.filter(all_models, pattern))
    else:
        models = all_models
    if exclude:
        for pattern in [exclude] if isinstance(exclude, str) else exclude:
            models -= set(fnmatch.filter(models, pattern))
    return sorted(models)


def get_model_builder(name: str) -> Callable:
    """The builder function registered under ``name``."""
    name = name.lower()
    try:
        return BUILTIN_MODELS[name]
    except KeyError:
        raise ValueError(f"Unknown model {name}") from None


def get_model(name: str, **config: Any) -> Any:
    """Build the model registered under ``name`` with ``config`` (``weights=``, ``num_classes=``...)."""
    return get_model_builder(name)(**config)


def get_model_weights(name: Callable | str) -> type[WeightsEnum]:
    """The weights enum class of a model builder (or of the model registered under ``name``)."""
    fn = get_model_builder(name) if isinstance(name, str) else name
    ann = getattr(fn, "_weights_enum", None)
    if ann is None:
        sig = inspect.signature(fn)
        if "weights" not in sig.parameters:
            raise ValueError("The method is missing the 'weights' argument.")
        raise ValueError(
            f"The WeightsEnum class for the specific method couldn't be retrieved ({fn.__name__})."
        )
    return ann


def get_weight(name: str) -> WeightsEnum:
    """A weights enum member by its full name, e.g. ``"ResNet50_Weights.IMAGENET1K_V1"``."""
    try:
        enum_name, value_name = name.split(".")
    except ValueError:
        raise ValueError(f"Invalid weight name provided: '{name}'.") from None
    models = importlib.import_module("ember.vision.models")
    cls = getattr(models, enum_name, None)
    if not (isinstance(cls, type) and issubclass(cls, WeightsEnum)):
        raise ValueError(f"The weight enum '{enum_name}' for the specific method couldn't be retrieved.")
    return cls[value_name]


def _ovewrite_named_param(kwargs: dict[str, Any], param: str, new_value: Any) -> None:
    """Set ``kwargs[param]``; a different value the caller already gave is an error (torchvision's name)."""
    if param in kwargs:
        if kwargs[param] != new_value:
            raise ValueError(
                f"The parameter '{param}' expected value {new_value} but got {kwargs[param]} instead."
            )
    else:
        kwargs[param] = new_value


def weights_builder(weights_enum: type[WeightsEnum]) -> Callable[[M], M]:
    """Mark a builder with its weights enum and accept the legacy ``pretrained=`` argument (with
    torchvision's deprecation warnings) and weights given as a string such as ``"DEFAULT"``."""

    def decorate(builder: M) -> M:
        @functools.wraps(builder)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if args:  # torchvision's builders are keyword-only since 0.13 (positionals warn)
                if len(args) > 2:
                    raise TypeError(f"{builder.__name__}() takes at most 2 positional arguments")
                names = ["weights", "progress"][: len(args)]
                warnings.warn(
                    f"Using {', '.join(repr(n) for n in names)} as positional parameter(s) is deprecated since 0.13 "
                    "and may be removed in the future. Please use keyword parameter(s) instead.",
                    stacklevel=2,
                )
                kwargs.update(zip(names, args))
            if "pretrained" in kwargs:
                pretrained = kwargs.pop("pretrained")
                if "weights" in kwargs and kwargs["weights"] is not None:
                    raise ValueError("pass either weights= or the deprecated pretrained=, not both")
                default = weights_enum.DEFAULT if pretrained else None
                warnings.warn(
                    "The parameter 'pretrained' is deprecated since 0.13 and may be removed in the future, "
                    "please use 'weights' instead.",
                    stacklevel=2,
                )
                warnings.warn(
                    "Arguments other than a weight enum or `None` for 'weights' are deprecated since 0.13 and may "
                    f"be removed in the future. The current behavior is equivalent to passing `weights={default}`.",
                    stacklevel=2,
                )
                kwargs["weights"] = default
            kwargs["weights"] = weights_enum.verify(kwargs.get("weights"))
            return builder(**kwargs)

        wrapper._weights_enum = weights_enum  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def load_weights(model: Any, weights: WeightsEnum | None, progress: bool) -> Any:
    """Load ``weights`` (a verified enum member or None) into ``model``; returns the model."""
    if weights is not None:
        state_dict = weights.get_state_dict(progress=progress, check_hash=True)
        model.load_state_dict(state_dict)
    return model
