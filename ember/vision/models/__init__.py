"""torchvision.models: classification architectures with torchvision's names, arguments and state_dict keys."""

from ember.vision.models._api import (
    Weights,
    WeightsEnum,
    get_model,
    get_model_builder,
    get_model_weights,
    get_weight,
    list_models,
)
from ember.vision.models.alexnet import *  # noqa: F403
from ember.vision.models.densenet import *  # noqa: F403
from ember.vision.models.googlenet import *  # noqa: F403
from ember.vision.models.mobilenetv2 import *  # noqa: F403
from ember.vision.models.mobilenetv3 import *  # noqa: F403
from ember.vision.models.resnet import *  # noqa: F403
from ember.vision.models.squeezenet import *  # noqa: F403
from ember.vision.models.vgg import *  # noqa: F403

__all__ = [
    "Weights",
    "WeightsEnum",
    "get_model",
    "get_model_builder",
    "get_model_weights",
    "get_weight",
    "list_models",
]
