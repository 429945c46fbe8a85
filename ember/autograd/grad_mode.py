"""torch.autograd.grad_mode: the grad-mode context managers (kept in ember.graph.grad_mode)."""

from ember.graph.grad_mode import (  # noqa: F401
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
