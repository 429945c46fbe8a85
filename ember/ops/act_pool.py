"""ReLU or Sigmoid followed by a tiled 2-d max pool, as one graph node: the fast path that
`nn.Sequential` takes for an `act, MaxPool2d` pair (nn/modules/container.py, `fuses_act_pool`).

The general path is two nodes, `Relu`/`Sigmoid` (ops/pointwise.py) then `MaxPool`
(ops/conv.py). Both activations are monotone non-decreasing, so the max commutes with them:
act(max x) = max act(x). Pooling first runs the activation, its saved output and its backward
on a quarter of the elements (LeNet's conv1 output is 3.5 MB per batch of 256, its pooled
output 0.9 MB). tests/test_fast_paths.py checks this node against the two-node path.

Backward sends each window's gradient to its first maximal element, as the two nodes do:
- relu: the first max of x is the first max of relu(x) wherever the gradient is not masked to 0
  (a window whose max is <= 0 gets exactly 0 either way), so the result is exact.
- sigmoid: the gradient goes to the first max of x. Float32 sigmoid is flat over runs of nearby
  inputs (and NumPy's float32 tanh is not monotone at about 1 in 3*10^7 adjacent inputs), so
  where two different x of a window round to the same largest sigmoid value the two-node path
  picks the first of them and this node the larger x: the same gradient value at a neighbouring
  position, where torch's own sigmoid, which rounds differently, may pick either. Checking for
  such windows costs more than the fusion saves (2.8 ms against 0.6 ms per LeNet batch; random
  inputs hit one in most batches), so this node does not check (docs/differences.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ember._layout import is_batch_last, nchw_view, to_batch_last
from ember.graph.node import Function
from ember.ops import kernels

_ACTS = ("relu", "sigmoid")


@dataclass(slots=True)
class ActPool:
    """Backward state of ActMaxPool: input and pooled max of the input, in one layout."""

    x: object  # NCHW array, or the (C, H, W, N) buffer when batch_last
    pooled: object  # max of x over each window
    y: object  # act(pooled), the output
    act: str
    k: tuple
    batch_last: bool
    hw_axis: int


def takes_act_pool(x, k) -> bool:
    """The predicate for the fused node: a 4-d float NumPy array whose spatial size the k
    windows tile exactly (the same windows as MaxPool's tiled path)."""
    return (
        type(x) is np.ndarray
        and x.ndim == 4
        and x.dtype.kind == "f"
        and x.shape[2] % k[0] == 0
        and x.shape[3] % k[1] == 0
        and x.size > 0
    )


class ActMaxPool(Function):
    # y = act(max_window x) = max_window act(x);  dx = act'(y) dy at the window's first max of act(x)
    takes_batch_last = True
    _name = "MaxPool2DWithIndicesBackward0"

    @staticmethod
    def forward(ctx, x, act, k):
        bl = not x.flags.c_contiguous and is_batch_last(x)
        src = x.transpose(1, 2, 3, 0) if bl else x
        hw_axis = 1 if bl else 2
        pooled = kernels.tap_max_forward(src, k, hw_axis)
        y = kernels.relu_forward(pooled) if act == "relu" else kernels.sigmoid_forward(pooled)
        ctx.state = ActPool(src, pooled, y, act, k, bl, hw_axis)
        return nchw_view(y) if bl else y

    @staticmethod
    def backward(ctx, g):
        st = ctx.state
        g = np.ascontiguousarray(to_batch_last(g) if st.batch_last else g, dtype=st.y.dtype)
        if st.act == "relu":
            gp = kernels.relu_backward(st.y, g)
        else:
            gp = kernels.sigmoid_backward(st.y, g)
        gx = kernels.tap_max_backward(st.x, st.pooled, gp, st.k, st.hw_axis)
        return (nchw_view(gx) if st.batch_last else gx), None, None
