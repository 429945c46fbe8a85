"""nn layers"""

from ember.nn.modules.module import Module  # noqa: F401
