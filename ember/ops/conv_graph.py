"""Convolution's backward as differentiable ops, for create_graph=True (double backward: a
gradient penalty, Hessian-vector products through a CNN). Convolution.backward hands over to
`backward_graph` when the incoming gradient is a Tensor; the formulas are the usual adjoints:

    gx = conv_transpose(gy, w)             (unpadded, then cropped / zero-extended to x)
    gw = conv(x^T, gy^T)^T                 (stride and dilation swapped, cropped to the kernel)
    gb = sum gy over (N, H, W)

per group, each a node of its own, so their gradients come from those ops' backward passes."""

from __future__ import annotations

from ember.ops.conv import ConstantPad, Convolution
from ember.ops.conv_transpose import ConvTranspose
from ember.ops.shape import Cat, permute


def _input_grad(gy, w, x_shape, stride, pad, dil, groups):
    (t, _), (left, _) = pad
    h, wd = x_shape[2:]
    full = ConvTranspose.apply(gy, w, None, stride, (0, 0), dil, groups, (0, 0))  # x_pad's rows
    hf, wf = full.shape[2:]
    # crop the padding off (negative pads) and zero-extend the rows/cols no window reads
    return ConstantPad.apply(full, (-left, left + wd - wf, -t, t + h - hf), 0.0)


def _weight_grad(x, gy, w_shape, stride, pad, dil, groups):
    kh, kw = w_shape[2:]
    cg, og = x.shape[1] // groups, gy.shape[1] // groups
    parts = []
    for g in range(groups):
        xg = permute(x[:, g * cg : (g + 1) * cg], (1, 0, 2, 3))  # (Cg, N, H, W)
        gg = permute(gy[:, g * og : (g + 1) * og], (1, 0, 2, 3))  # (Og, N, OH, OW)
        corr = Convolution.apply(xg, gg, None, dil, pad, stride, 1)  # (Cg, Og, >= KH, >= KW)
        parts.append(permute(corr[:, :, :kh, :kw], (1, 0, 2, 3)))
    return parts[0] if groups == 1 else Cat.apply(*parts, dim=0)


def backward_graph(ctx, gy, x, w):
    """(gx, gw, gb) of Convolution as Tensors; x and w are the saved input and weight tensors."""
    st = ctx.state
    need = ctx.needs_input_grad
    stride, pad, dil = st.stride, st.pad, st.dil
    groups = getattr(st, "groups", 1)
    x_shape, w_shape = st.x_shape, st.w_shape
    one_d = getattr(st, "one_d", False)
    if one_d:  # (N, C, L) tensors (the recorded shapes are already 4-d): a height of one
        gy, x, w = (
            gy.unsqueeze(2),
            None if x is None else x.unsqueeze(2),
            None if w is None else w.unsqueeze(2),
        )
    gx = _input_grad(gy, w, x_shape, stride, pad, dil, groups) if need[0] else None
    gw = _weight_grad(x, gy, w_shape, stride, pad, dil, groups) if need[1] else None
    gb = gy.sum((0, 2, 3)) if len(need) > 2 and need[2] else None
    if one_d:
        gx = None if gx is None else gx.squeeze(2)
        gw = None if gw is None else gw.squeeze(2)
    return gx, gw, gb
