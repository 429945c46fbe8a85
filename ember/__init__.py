"""ember: a deep-learning framework with PyTorch's API, on NumPy (CuPy on a GPU)."""

from __future__ import annotations

__version__ = "0.1.0"

import importlib as _importlib
import warnings as _warnings

# torch never warns on inf/nan results; NumPy does. Silence those warnings only when they are
# raised inside ember's own code (user code keeps NumPy's default).
_warnings.filterwarnings(
    "ignore",
    message="(divide by zero|invalid value|overflow|underflow) encountered",
    category=RuntimeWarning,
    module=r"ember\.",
)

from ember import _malloc

_malloc.configure()  # freed arrays stay mapped for the next step (ember/_malloc.py)

from ember._dtype import (  # noqa: F401
    bool_ as bool,
    complex64,
    complex128,
    dtype,
    float16,
    float32,
    finfo,
    float64,
    get_default_dtype,
    iinfo,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    set_default_dtype,
    uint8,
)
from ember._dtype import float16 as half  # noqa: F401
from ember._dtype import float32 as float  # noqa: F401
from ember._dtype import float64 as double  # noqa: F401
from ember._dtype import int16 as short  # noqa: F401
from ember._dtype import int32 as int  # noqa: F401
from ember._dtype import int64 as long  # noqa: F401
from ember._dtype import complex64 as cfloat  # noqa: F401
from ember._backend import device  # noqa: F401
from ember._size import Size  # noqa: F401
from ember._memory_format import (  # noqa: F401
    channels_last,
    channels_last_3d,
    contiguous_format,
    memory_format,
    preserve_format,
)
from ember._tensor import Tensor  # noqa: F401
from ember.graph.grad_mode import (  # noqa: F401
    enable_grad,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_anomaly_enabled,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from ember.random import Generator, manual_seed, seed, initial_seed, get_rng_state, set_rng_state  # noqa: F401
from ember.random import default_generator  # noqa: F401
from ember.creation import *  # noqa: F401,F403
from ember.ops.random_ops import *  # noqa: F401,F403
from ember.ops.arith import *  # noqa: F401,F403
from ember.ops.compare import *  # noqa: F401,F403
from ember.ops.copy import clone  # noqa: F401
from ember.ops.reduce import *  # noqa: F401,F403
from ember.ops.shape import *  # noqa: F401,F403
from ember.ops.index import *  # noqa: F401,F403
from ember.ops.linalg import *  # noqa: F401,F403
from ember.ops.sort import *  # noqa: F401,F403
from ember.ops.special import *  # noqa: F401,F403
from ember.ops.counting import *  # noqa: F401,F403
from ember.ops.combine import *  # noqa: F401,F403
from ember.ops.mathfuncs import *  # noqa: F401,F403
from ember.ops.statistics import *  # noqa: F401,F403
from ember.ops.scatter_reduce import *  # noqa: F401,F403
from ember.signal_windows import *  # noqa: F401,F403
from ember.queries import *  # noqa: F401,F403
from ember.ops.householder import geqrf  # noqa: F401
from ember import _methods  # noqa: F401,E402
from ember import autograd  # noqa: F401,E402
from ember import linalg  # noqa: F401,E402
from ember.linalg import chain_matmul, matrix_power, pinverse, slogdet  # noqa: F401,E402
from ember.linalg import torch_qr as qr, torch_vander as vander  # noqa: F401,E402
from ember.creation import torch_range as range  # noqa: F401,E402,A004
from ember import cuda  # noqa: F401,E402
from ember._defaults import *  # noqa: F401,F403,E402

import builtins as _b  # noqa: E402

bool = bool  # noqa: PLW0127  (ember.bool is the dtype, as torch.bool)
del _b

from ember._repr import get_printoptions, printoptions, set_printoptions  # noqa: E402,F401
from ember._threads import get_num_threads, set_num_threads  # noqa: E402,F401

# nn, optim, utils, vision and serialization (with save/load) load on first use (`ember.nn`,
# `import ember.nn`, `ember.save`): `import ember` stays fast, as the import-time goal asks,
# and the package's own namespace imports nothing above the core layers.
_LAZY = (
    "nn", "optim", "utils", "vision", "serialization", "distributed", "distributions",
    "multiprocessing", "onnx", "func", "testing", "backends", "accelerator", "hub", "special", "amp",
)  # fmt: skip
_LAZY_NAMES = {
    "save": "serialization",
    "load": "serialization",
    "get_float32_matmul_precision": "backends.cuda",
    "set_float32_matmul_precision": "backends.cuda",
    "autocast": "amp",
    # torch's top-level aliases of nn.functional with the same signature
    **dict.fromkeys(
        "conv1d conv2d conv_transpose1d conv_transpose2d avg_pool1d adaptive_avg_pool1d max_pool1d max_pool2d "
        "pixel_shuffle pixel_unshuffle channel_shuffle cosine_similarity bilinear hardshrink selu celu "
        "threshold pairwise_distance pdist".split(),
        "nn.functional",
    ),
}


def __getattr__(name: str):
    if name in _LAZY:
        module = _importlib.import_module(f"ember.{name}")
        globals()[name] = module
        return module
    if name in _LAZY_NAMES:
        value = getattr(_importlib.import_module(f"ember.{_LAZY_NAMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ember' has no attribute {name!r}")
