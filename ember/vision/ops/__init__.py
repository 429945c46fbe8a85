"""ops"""
from ember.vision.ops import misc  # noqa: F401
