"""torch.utils"""

from ember.utils import data  # noqa: F401
