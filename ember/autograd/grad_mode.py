"""torch.autograd.grad_mode: the grad-mode context managers (kept in ember.graph.grad_mode)."""

from ember.graph.grad_mode import (  # noqa: F401  # noqa: F401
    detect_anomaly,
    enable_grad,
    inference_mode,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_anomaly_enabled,
    set_detect_anomaly,
    set_grad_enabled,
)
