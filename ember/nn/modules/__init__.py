"""nn layers: every public layer class, gathered from the files of this package."""

from ember.nn.modules import (
    activation,
    activation_extra,
    adaptive,
    attention,
    batchnorm,
    container,
    conv,
    conv_transpose,
    dropout,
    dropout_extra,
    flatten,
    fold,
    instancenorm,
    lazy,
    linear,
    local_response_norm,
    loss,
    loss_extra,
    normalization,
    padding,
    pixelshuffle,
    pooling,
    pooling_extra,
    rnn,
    rnn_cell,
    sparse,
    transformer,
    upsampling,
)
from ember.nn.modules.activation import *  # noqa: F401,F403
from ember.nn.modules.activation_extra import *  # noqa: F401,F403
from ember.nn.modules.adaptive import *  # noqa: F401,F403
from ember.nn.modules.attention import *  # noqa: F401,F403
from ember.nn.modules.batchnorm import *  # noqa: F401,F403
from ember.nn.modules.container import *  # noqa: F401,F403
from ember.nn.modules.conv import *  # noqa: F401,F403
from ember.nn.modules.conv_transpose import *  # noqa: F401,F403
from ember.nn.modules.dropout import *  # noqa: F401,F403
from ember.nn.modules.dropout_extra import *  # noqa: F401,F403
from ember.nn.modules.flatten import *  # noqa: F401,F403
from ember.nn.modules.fold import *  # noqa: F401,F403
from ember.nn.modules.instancenorm import *  # noqa: F401,F403
from ember.nn.modules.lazy import *  # noqa: F401,F403
from ember.nn.modules.linear import *  # noqa: F401,F403
from ember.nn.modules.local_response_norm import *  # noqa: F401,F403
from ember.nn.modules.loss import *  # noqa: F401,F403
from ember.nn.modules.loss_extra import *  # noqa: F401,F403
from ember.nn.modules.module import Module
from ember.nn.modules.normalization import *  # noqa: F401,F403
from ember.nn.modules.padding import *  # noqa: F401,F403
from ember.nn.modules.pixelshuffle import *  # noqa: F401,F403
from ember.nn.modules.pooling import *  # noqa: F401,F403
from ember.nn.modules.pooling_extra import *  # noqa: F401,F403
from ember.nn.modules.rnn import *  # noqa: F401,F403
from ember.nn.modules.rnn_cell import *  # noqa: F401,F403
from ember.nn.modules.sparse import *  # noqa: F401,F403
from ember.nn.modules.transformer import *  # noqa: F401,F403
from ember.nn.modules.upsampling import *  # noqa: F401,F403

__all__ = ["Module"] + [
    name
    for mod in (
        activation,
        activation_extra,
        adaptive,
        attention,
        batchnorm,
        container,
        conv,
        conv_transpose,
        dropout,
        dropout_extra,
        flatten,
        fold,
        instancenorm,
        lazy,
        linear,
        local_response_norm,
        loss,
        loss_extra,
        normalization,
        padding,
        pixelshuffle,
        pooling,
        pooling_extra,
        rnn,
        rnn_cell,
        sparse,
        transformer,
        upsampling,
    )
    for name in mod.__all__
]
