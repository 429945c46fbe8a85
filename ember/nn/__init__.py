"""torch.nn"""

from ember.nn import functional, init, utils  # noqa: F401,E402
from ember.nn.modules import *  # noqa: F401,F403
from ember.nn.modules.batchnorm import *  # noqa: F401,F403
from ember.nn.modules.conv import *  # noqa: F401,F403
from ember.nn.modules.conv_transpose import *  # noqa: F401,F403
from ember.nn.modules.instancenorm import *  # noqa: F401,F403
from ember.nn.modules.module import Module  # noqa: F401
from ember.nn.modules.normalization import *  # noqa: F401,F403
from ember.nn.modules.padding import *  # noqa: F401,F403
from ember.nn.modules.pooling import *  # noqa: F401,F403
from ember.nn.modules.upsampling import *  # noqa: F401,F403
from ember.nn.parameter import Buffer, Parameter, UninitializedParameter  # noqa: F401
