"""torch.nn"""

from ember.nn import functional, init, parallel, utils  # noqa: F401,E402
from ember.nn.modules import *  # noqa: F401,F403
from ember.nn.modules.batchnorm import *  # noqa: F401,F403
from ember.nn.modules.conv import *  # noqa: F401,F403
from ember.nn.modules.module import Module  # noqa: F401
from ember.nn.modules.normalization import *  # noqa: F401,F403
from ember.nn.modules.pooling import *  # noqa: F401,F403
from ember.nn.modules.sync_batchnorm import SyncBatchNorm  # noqa: F401
from ember.nn.parallel import DataParallel  # noqa: F401,E402
from ember.nn.parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter  # noqa: F401
