"""nn layers: every public layer class, gathered from the files of this package."""

from ember.nn.modules import (
    activation,
    adaptive,
    attention,
    batchnorm,
    container,
    conv,
    dropout,
    flatten,
    linear,
    loss,
    normalization,
    pooling,
    rnn,
    rnn_cell,
    sparse,
    transformer,
)
from ember.nn.modules.activation import *  # noqa: F401,F403
from ember.nn.modules.adaptive import *  # noqa: F401,F403
from ember.nn.modules.attention import *  # noqa: F401,F403
from ember.nn.modules.batchnorm import *  # noqa: F401,F403
from ember.nn.modules.container import *  # noqa: F401,F403
from ember.nn.modules.conv import *  # noqa: F401,F403
from ember.nn.modules.dropout import *  # noqa: F401,F403
from ember.nn.modules.flatten import *  # noqa: F401,F403
from ember.nn.modules.linear import *  # noqa: F401,F403
from ember.nn.modules.loss import *  # noqa: F401,F403
from ember.nn.modules.module import Module
from ember.nn.modules.normalization import *  # noqa: F401,F403
from ember.nn.modules.pooling import *  # noqa: F401,F403
from ember.nn.modules.rnn import *  # noqa: F401,F403
from ember.nn.modules.rnn_cell import *  # noqa: F401,F403
from ember.nn.modules.sparse import *  # noqa: F401,F403
from ember.nn.modules.transformer import *  # noqa: F401,F403

__all__ = ["Module"] + [
    name
    for mod in (
        activation,
        adaptive,
        attention,
        batchnorm,
        container,
        conv,
        dropout,
        flatten,
        linear,
        loss,
        normalization,
        pooling,
        rnn,
        rnn_cell,
        sparse,
        transformer,
    )
    for name in mod.__all__
]
