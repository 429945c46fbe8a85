"""torch.nn.utils: gradient clipping, parameter/vector conversion, packed sequences (rnn)."""

from ember.nn.utils import (  # noqa: F401,E402
    fusion,
    parametrizations,
    parametrize,
    rnn,  # noqa: F401
)
from ember.nn.utils.clip_grad import clip_grad_norm, clip_grad_norm_, clip_grad_value_  # noqa: F401
from ember.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from ember.nn.utils.fusion import (  # noqa: F401,E402
    fuse_conv_bn_eval,
    fuse_conv_bn_weights,
    fuse_linear_bn_eval,
    fuse_linear_bn_weights,
)
