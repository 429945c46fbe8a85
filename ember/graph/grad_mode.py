"""Grad mode is one module-level flag: no_grad, enable_grad, set_grad_enabled, inference_mode."""

from __future__ import annotations

import functools

_state = [True]  # grad enabled


def is_grad_enabled() -> bool:
    return _state[0]


class _GradModeContext:
    """Context manager and decorator that sets grad mode and restores it on exit."""

    _mode = True

    def __enter__(self):
        self._prev = _state[0]
        _state[0] = self._mode
        return self

    def __exit__(self, *exc) -> None:
        _state[0] = self._prev

    def __call__(self, fn):
        if isinstance(fn, type):
            raise TypeError("no_grad/enable_grad decorate functions, not classes")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Disable graph recording (torch.no_grad)."""

    _mode = False


class enable_grad(_GradModeContext):
    """Enable graph recording (torch.enable_grad)."""

    _mode = True


_inference = [False]  # inside an enabled inference_mode block


def is_inference_mode_enabled() -> bool:
    return _inference[0]


class inference_mode(_GradModeContext):
    """Like no_grad (ember has no separate inference tensors)."""

    def __init__(self, mode: bool = True) -> None:
        self._mode = not mode

    def __enter__(self):
        self._prev_inf = _inference[0]
        _inference[0] = not self._mode
        return super().__enter__()

    def __exit__(self, *exc) -> None:
        _inference[0] = self._prev_inf
        super().__exit__(*exc)

    def __call__(self, fn):
        if not callable(fn):
            raise TypeError("inference_mode expects a callable")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(not self._mode):
                return fn(*args, **kwargs)

        return wrapper


class set_grad_enabled(_GradModeContext):
    """Set grad mode at once (function use) or for a `with` block (context use)."""

    def __init__(self, mode: bool) -> None:
        self._prev = _state[0]
        self._mode = bool(mode)
        _state[0] = self._mode

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        _state[0] = self._prev

    def __call__(self, fn):
        _state[0] = self._prev
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


# -- anomaly detection (torch.autograd.detect_anomaly) -------------------------------------------
_anomaly = [False, True]  # enabled, check_nan


def is_anomaly_enabled() -> bool:
    return _anomaly[0]


def is_anomaly_check_nan_enabled() -> bool:
    return _anomaly[1]


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    _anomaly[0], _anomaly[1] = bool(enabled), bool(check_nan)


class _AnomalyContext:
    """Sets anomaly mode for a block (or a decorated function), restoring the previous mode on exit."""

    def __init__(self, mode: bool, check_nan: bool) -> None:
        self._mode, self._check_nan = bool(mode), bool(check_nan)
        self._prev = tuple(_anomaly)

    def __enter__(self):
        self._prev = tuple(_anomaly)
        set_anomaly_enabled(self._mode, self._check_nan)
        return self

    def __exit__(self, *exc) -> None:
        set_anomaly_enabled(*self._prev)

    def __call__(self, fn):
        mode, check_nan = self._mode, self._check_nan

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with _AnomalyContext(mode, check_nan):
                return fn(*a, **k)

        return wrapper


class detect_anomaly(_AnomalyContext):
    """torch.autograd.detect_anomaly: backward checks every node's gradients for NaN and raises,
    naming the node (ember keeps no forward tracebacks to print)."""

    def __init__(self, check_nan: bool = True) -> None:
        super().__init__(True, check_nan)

    def __enter__(self):
        import warnings

        warnings.warn(
            "Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
            "enabled for debugging.",
            stacklevel=2,
        )
        return super().__enter__()


class set_detect_anomaly(_AnomalyContext):
    """torch.autograd.set_detect_anomaly(mode, check_nan=True): takes effect when called, and as a
    context manager restores the previous mode on exit."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        super().__init__(mode, check_nan)
        set_anomaly_enabled(self._mode, self._check_nan)

    def __enter__(self):
        return self
