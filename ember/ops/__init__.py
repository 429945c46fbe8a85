"""Differentiable primitives (Function subclasses on raw arrays) and the public functions over them."""
