"""torch.autograd: backward, grad, grad modes, custom Functions, gradcheck."""

from __future__ import annotations

from ember.autograd import functional  # noqa: F401
from ember.autograd.backward import backward, grad
from ember.autograd.function import Function, FunctionCtx
from ember.autograd.grad_mode import (
    detect_anomaly,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from ember.autograd.gradcheck import gradcheck, gradgradcheck
from ember.autograd.variable import Variable  # noqa: F401

__all__ = [
    "backward",
    "grad",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
    "Function",
    "FunctionCtx",
    "gradcheck",
    "gradgradcheck",
    "detect_anomaly",
    "set_detect_anomaly",
]
