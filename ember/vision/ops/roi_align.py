"""torchvision.ops.roi_align / RoIAlign: bilinear average pooling of box regions (Mask R-CNN), with gradients."""

from __future__ import annotations

import math

import numpy as np

from ember import nn
from ember._backend import of
from ember._tensor import Tensor
from ember.graph.node import Function

__all__ = ["roi_align", "RoIAlign"]


def _sample_plan(rois: np.ndarray, h: int, w: int, ph: int, pw: int, scale: float, ratio: int, aligned: bool):
    """Per roi: the 4 bilinear (index, weight) pairs of every sampling point, torchvision's CPU kernel rules."""
    plans = []
    offset = 0.5 if aligned else 0.0
    for roi in rois:
        x1, y1, x2, y2 = (float(v) * scale - offset for v in roi[1:])
        rw, rh = x2 - x1, y2 - y1
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph, rw / pw
        gh = ratio if ratio > 0 else int(math.ceil(rh / ph))
        gw = ratio if ratio > 0 else int(math.ceil(rw / pw))
        count = max(gh * gw, 1)
        ys = y1 + np.arange(ph)[:, None] * bh + (np.arange(gh)[None, :] + 0.5) * bh / max(gh, 1)  # (ph, gh)
        xs = x1 + np.arange(pw)[:, None] * bw + (np.arange(gw)[None, :] + 0.5) * bw / max(gw, 1)  # (pw, gw)
        y = np.broadcast_to(ys[:, None, :, None], (ph, pw, gh, gw))
        x = np.broadcast_to(xs[None, :, None, :], (ph, pw, gh, gw))
        valid = ~((y < -1.0) | (y > h) | (x < -1.0) | (x > w))
        y, x = np.maximum(y, 0.0), np.maximum(x, 0.0)
        y_low, x_low = y.astype(np.int64), x.astype(np.int64)
        top_y, top_x = y_low >= h - 1, x_low >= w - 1
        y_low = np.where(top_y, h - 1, y_low)
        x_low = np.where(top_x, w - 1, x_low)
        y_high = np.where(top_y, h - 1, y_low + 1)
        x_high = np.where(top_x, w - 1, x_low + 1)
        y = np.where(top_y, y_low, y)
        x = np.where(top_x, x_low, x)
        ly, lx = y - y_low, x - x_low
        hy, hx = 1.0 - ly, 1.0 - lx
        idx = np.stack([y_low * w + x_low, y_low * w + x_high, y_high * w + x_low, y_high * w + x_high])
        wts = np.stack([hy * hx, hy * lx, ly * hx, ly * lx]) * valid / count
        plans.append((int(roi[0]), idx.reshape(4, ph, pw, -1), wts.reshape(4, ph, pw, -1)))
    return plans


class RoIAlignFunction(Function):
    """out[k, c, i, j] = mean over the bin's sampling points of bilinear(input[b_k, c], point)."""

    @staticmethod
    def forward(ctx, input, rois, output_size, spatial_scale, sampling_ratio, aligned):
        xp = of(input)
        n, c, h, w = input.shape
        ph, pw = output_size
        plans = _sample_plan(
            np.asarray(rois.get() if hasattr(rois, "get") else rois),
            h,
            w,
            ph,
            pw,
            spatial_scale,
            sampling_ratio,
            aligned,
        )
        flat = input.reshape(n, c, h * w)
        out = xp.zeros((len(plans), c, ph, pw), dtype=input.dtype)
        for k, (b, idx, wts) in enumerate(plans):
            vals = flat[b][:, xp.asarray(idx)]  # (c, 4, ph, pw, samples)
            out[k] = (vals * xp.asarray(wts, dtype=input.dtype)).sum(axis=(1, 4))
        ctx.plans, ctx.shape = plans, input.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        xp = of(grad)
        n, c, h, w = ctx.shape
        gin = np.zeros((n, c, h * w), dtype=grad.dtype)
        g = np.asarray(grad.get() if hasattr(grad, "get") else grad)
        for k, (b, idx, wts) in enumerate(ctx.plans):
            contrib = g[k][:, None, :, :, None] * wts[None].astype(g.dtype)  # (c, 4, ph, pw, samples)
            np.add.at(gin[b], (slice(None), idx.reshape(-1)), contrib.reshape(c, -1))
        return xp.asarray(gin.reshape(n, c, h, w)), None, None, None, None, None


def _convert_boxes(boxes: Tensor | list[Tensor]) -> np.ndarray:
    if isinstance(boxes, list | tuple):
        rows = []
        for i, b in enumerate(boxes):
            arr = b.detach().cpu().numpy()
            if arr.ndim != 2 or arr.shape[1] != 4:
                raise ValueError(f"The boxes in the list should be of shape (L, 4), got {tuple(b.shape)}")
            rows.append(np.concatenate([np.full((len(arr), 1), i, arr.dtype), arr], axis=1))
        return np.concatenate(rows, 0) if rows else np.zeros((0, 5))
    arr = boxes.detach().cpu().numpy()
    if arr.ndim != 2 or arr.shape[1] != 5:
        raise ValueError(f"The boxes tensor shape is not correct as Tensor[K, 5], got {tuple(boxes.shape)}")
    return arr


def roi_align(
    input: Tensor,
    boxes: Tensor | list[Tensor],
    output_size: int | tuple[int, int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
) -> Tensor:
    """RoIAlign: ``(K, C, *output_size)`` features of the ``boxes`` (``(K, 5)`` batch index + xyxy, or a list
    of ``(L, 4)`` per image) on ``input`` ``(N, C, H, W)``; ``sampling_ratio <= 0`` samples adaptively."""
    if input.ndim != 4:
        raise ValueError(f"input should be a 4-d tensor (N, C, H, W), got {tuple(input.shape)}")
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    rois = _convert_boxes(boxes)
    return RoIAlignFunction.apply(input, rois, size, float(spatial_scale), int(sampling_ratio), bool(aligned))


class RoIAlign(nn.Module):
    """Module form of ``roi_align``."""

    def __init__(
        self,
        output_size: int | tuple[int, int],
        spatial_scale: float,
        sampling_ratio: int,
        aligned: bool = False,
    ) -> None:
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale
        self.sampling_ratio, self.aligned = sampling_ratio, aligned

    def forward(self, input: Tensor, rois: Tensor | list[Tensor]) -> Tensor:
        return roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
            f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned})"
        )
