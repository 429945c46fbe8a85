"""Fused scaled dot-product attention: softmax(q k^T * scale + bias) (dropout) v as one node.

Rows whose every key is masked (-inf) give zeros and no gradient, as torch's CPU kernel does.
"""

from __future__ import annotations

from ember._backend import of
from ember._tensor import Tensor
from ember.graph.node import Function
from ember.ops._util import unbroadcast

_ERR_DOUBLE = (
    "double backward (create_graph=True) through the fused scaled_dot_product_attention is not supported "
    "in ember; nn.MultiheadAttention(need_weights=True) takes the composite path, which supports it"
)


class ScaledDotProductAttention(Function):
    # S = q k^T s + bias;  P = softmax(S);  O = (P m) v  (m: dropout keep-mask / (1 - p))
    # dv = (P m)^T dO;  dP = (dO v^T) m;  dS = P (dP - sum(dP P));  dq = dS k s;  dk = dS^T q s
    _name = "ScaledDotProductAttentionBackward0"

    @staticmethod
    def forward(ctx, q, k, v, bias, scale, keep):
        xp = of(q)
        S = q @ xp.swapaxes(k, -1, -2)
        S *= scale
        if bias is not None:
            if xp.broadcast_shapes(S.shape, bias.shape) == S.shape:
                S += bias
            else:
                S = S + bias
        m = S.max(axis=-1, keepdims=True)
        dead = m == -xp.inf
        if dead.any():
            m = xp.where(dead, 0, m)
        S -= m
        xp.exp(S, out=S)
        den = S.sum(axis=-1, keepdims=True)
        if dead.any():  # all keys masked: exp gave zeros; keep the row at zero
            den = xp.where(dead, 1, den)
        S /= den
        P = S
        Pd = P if keep is None else P * keep
        ctx.save_for_backward(q, k, v, P, keep)
        ctx.scale = scale
        ctx.bias_shape = None if bias is None else bias.shape
        return Pd @ v

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):
            raise RuntimeError(_ERR_DOUBLE)
        q, k, v, P, keep = ctx.saved
        xp = of(g)
        n = ctx.needs_input_grad
        Pd = P if keep is None else P * keep
        gv = unbroadcast(xp.swapaxes(Pd, -1, -2) @ g, v.shape) if n[2] else None
        dP = g @ xp.swapaxes(v, -1, -2)
        if keep is not None:
            dP *= keep
        # dS = P (dP - sum(dP P)), in place on dP (Pd's buffer, when it is a copy, takes dP P)
        dPP = xp.multiply(dP, P, out=Pd if keep is not None else None)
        dP -= dPP.sum(axis=-1, keepdims=True)
        dP *= P
        dS = dP
        gq = gk = None
        if n[0]:
            gq = dS @ k
            gq *= ctx.scale
            gq = unbroadcast(gq, q.shape)
        if n[1]:
            gk = xp.swapaxes(dS, -1, -2) @ q
            gk *= ctx.scale
            gk = unbroadcast(gk, k.shape)
        gb = unbroadcast(dS, ctx.bias_shape) if len(n) > 3 and n[3] else None
        return gq, gk, gv, gb, None, None
