"""torch.autograd.detect_anomaly / set_detect_anomaly and the torch.is_anomaly_* queries, against
torch: the NaN check names the node that produced it, with torch's message."""

import warnings

import pytest
import torch

import ember


def _nan_backward(lib):
    x = lib.tensor([0.0, 1.0], requires_grad=True)
    return x, (x.sqrt() * 0).sum() + (x / x).sum()


@pytest.mark.parametrize("lib", [ember, torch])
def test_detect_anomaly_names_the_node(lib):
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        with lib.autograd.detect_anomaly():
            assert lib.is_anomaly_enabled() and lib.is_anomaly_check_nan_enabled()
            _, y = _nan_backward(lib)
            with pytest.raises(
                RuntimeError, match=r"Function 'DivBackward0' returned nan values in its 1th output\."
            ):
                y.backward()
    assert not lib.is_anomaly_enabled()
    x, y = _nan_backward(lib)  # off again: the NaN gradient just arrives
    y.backward()
    assert bool(x.grad.isnan().any())


@pytest.mark.parametrize("lib", [ember, torch])
def test_set_detect_anomaly_and_check_nan(lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with lib.autograd.detect_anomaly(check_nan=False):
            _, y = _nan_backward(lib)
            y.backward()  # no NaN check
    lib.autograd.set_detect_anomaly(True)
    try:
        assert lib.is_anomaly_enabled()
        _, y = _nan_backward(lib)
        with pytest.raises(RuntimeError, match="returned nan values"):
            y.backward()
    finally:
        lib.autograd.set_detect_anomaly(False)
    assert not lib.is_anomaly_enabled()
    with lib.autograd.set_detect_anomaly(True):
        assert lib.is_anomaly_enabled()
    assert not lib.is_anomaly_enabled()
    lib.set_anomaly_enabled(True, check_nan=False)
    assert lib.is_anomaly_enabled() and not lib.is_anomaly_check_nan_enabled()
    lib.set_anomaly_enabled(False)


def test_anomaly_mode_keeps_gradients_and_decorates():
    @ember.autograd.set_detect_anomaly(True)
    def grads():
        assert ember.is_anomaly_enabled()
        w = ember.tensor([2.0, 3.0], requires_grad=True)
        (w * w).sum().backward()
        return w.grad

    ember.autograd.set_detect_anomaly(False)
    assert grads().tolist() == [4.0, 6.0]
    assert not ember.is_anomaly_enabled()
