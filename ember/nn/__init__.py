"""torch.nn"""

from ember.nn.parameter import Buffer, Parameter, UninitializedParameter  # noqa: F401
from ember.nn.modules import *  # noqa: F401,F403
from ember.nn.modules.module import Module  # noqa: F401
