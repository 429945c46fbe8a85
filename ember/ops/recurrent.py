"""Fused recurrent layers: one graph node per layer and direction of nn.RNN / nn.GRU / nn.LSTM.

Forward projects the inputs of all time steps with one GEMM, then loops over time on raw
arrays (one GEMM with W_hh and a few elementwise passes per step); backward through time is
one reverse loop that collects the pre-activation gradients of every step, after which the
weight, bias and input gradients are again one GEMM / reduction each.

Gate layouts are torch's: LSTM rows (i, f, g, o), GRU rows (r, z, n) with
n = tanh(W_in x + b_in + r * (W_hn h + b_hn)). Sigmoids are computed as 0.5 tanh(a/2) + 0.5
(as ember's sigmoid): the sigmoid rows of the weights are pre-scaled by 0.5 (exact), so each
step needs a single tanh over all gates. Packed sequences (time-major, batch sorted by
decreasing length) pass `batch_sizes`: at step t only the first batch_sizes[t] rows advance,
the others carry their state, which also gives each row's final state for h_n / c_n.
"""

from __future__ import annotations

import numpy as np

from ember._backend import of
from ember._jit import kernels
from ember._tensor import Tensor
from ember.graph.node import Function

_ERR_DOUBLE = (
    "double backward (create_graph=True) through a fused recurrent layer (nn.RNN/GRU/LSTM) is not "
    "supported in ember; the cells (nn.RNNCell/GRUCell/LSTMCell) support it"
)

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


def _gate_scale(xp, mode: str, H: int, dtype):
    """Per-row factor that turns the sigmoid gates' pre-activations into tanh arguments."""
    if mode == "LSTM":  # i, f sigmoid; g tanh; o sigmoid
        s = xp.full(4 * H, 0.5, dtype=dtype)
        s[2 * H : 3 * H] = 1.0
        return s
    if mode == "GRU":  # r, z sigmoid; n's pre-activation is split, so scaled by 1
        s = xp.full(3 * H, 0.5, dtype=dtype)
        s[2 * H :] = 1.0
        return s
    return None


class LstmGatesTanh:
    """General path of the LSTM gate nonlinearities: sigmoid(a) = 0.5 tanh(a/2) + 0.5, so the
    sigmoid rows (i, f, o) of the weights are pre-scaled by 0.5 and the g rows by 1 (exact), one
    tanh covers all gates and the sigmoid rows are finished as t * 0.5 + 0.5 (whole rows in two
    passes: faster than four on the sigmoid blocks)."""

    def __init__(self, xp, H: int, dtype) -> None:
        self.H = H
        self.scale = _gate_scale(xp, "LSTM", H, dtype)  # applied to W_ih, W_hh and the biases
        self.offset = 1 - self.scale

    def __call__(self, xp, g) -> None:
        xp.tanh(g, out=g)
        g *= self.scale  # i, f, o rows: tanh(a/2) -> 0.5 t + 0.5 = sigmoid(a); g rows: t * 1 + 0
        g += self.offset


class LstmGatesExp:
    """Fast path of LstmGatesTanh (NumPy, where exp costs ~0.6x tanh: docs/sequence.md):
    sigmoid(a) = 1 / (1 + exp(-a)) and tanh(a) = 2 / (1 + exp(-2a)) - 1, so the sigmoid rows
    of the weights are pre-scaled by -1 and the g rows by -2 (exact) and a step is one exp, one
    add and one divide over all gates, plus one subtract on the g rows. exp overflows to inf
    for very negative a, which gives the exact limits 0 and -1 (the caller ignores the
    overflow warning)."""

    def __init__(self, xp, H: int, dtype) -> None:
        self.H = H
        self.scale = xp.full(4 * H, -1.0, dtype=dtype)
        self.scale[2 * H : 3 * H] = -2.0
        self.numer = xp.ones(4 * H, dtype=dtype)
        self.numer[2 * H : 3 * H] = 2.0

    def __call__(self, xp, g) -> None:
        H = self.H
        xp.exp(g, out=g)
        g += 1
        xp.divide(self.numer, g, out=g)
        g[:, 2 * H : 3 * H] -= 1


def uses_exp_gates(xp) -> bool:
    """Where LstmGatesExp wins: NumPy's tanh is slower than its exp (measured on OpenBLAS
    builds without AVX-512 SIMD tanh); CuPy's kernels are not worth the extra passes."""
    return xp is np


def _sig_from_tanh(v) -> None:
    """In place: tanh(a / 2) -> sigmoid(a)."""
    v *= 0.5
    v += 0.5


def _steps(T: int, B: int, batch_sizes, reverse: bool):
    """Active batch rows per step, in step order (reverse direction walks time backwards)."""
    if batch_sizes is None:
        return [B] * T
    return list(batch_sizes[::-1]) if reverse else list(batch_sizes)


def hidden_product(xp, wh, B: int):
    """General path: h -> h @ W_hh^T (one (b, G) GEMM per step) on a contiguous W_hh^T."""
    whT = xp.ascontiguousarray(wh.T)
    return lambda h: h @ whT


def hidden_product_transposed(xp, wh, B: int):
    """Fast path of hidden_product: h -> (W_hh h^T)^T, computed into one reused (G, b) buffer
    and returned as its transposed view (valid until the next call). OpenBLAS runs this
    orientation faster for small batches and wide weights (docs/sequence.md)."""
    G = wh.shape[0]
    buf = xp.empty(G * B, dtype=wh.dtype)

    def prod(h):
        out = buf[: G * h.shape[0]].reshape(G, h.shape[0])
        xp.matmul(wh, h.T, out=out)
        return out.T

    return prod


def uses_transposed_product(xp, B: int, P: int) -> bool:
    """The shapes where hidden_product_transposed wins (measured on OpenBLAS)."""
    return xp is np and 8 <= B <= 48 and P >= 256


def _load_lstm_kernels(numba):
    from ember.ops import recurrent_jit

    return recurrent_jit.lstm_forward, recurrent_jit.lstm_backward


def lstm_kernels():
    """(lstm_forward, lstm_backward) of ops/recurrent_jit.py, or None without numba."""
    return kernels("lstm", _load_lstm_kernels)


def uses_jit_cell(xp, dtype) -> bool:
    """Where the compiled LSTM cell (ops/recurrent_jit.py) replaces the NumPy cell: float32 on
    NumPy with numba installed."""
    return xp is np and dtype == np.float32 and lstm_kernels() is not None


class RecurrentLayer(Function):
    # h_t = cell(W_ih x_t + b_ih, h_{t-1});  BPTT: dh_{t-1} = dA_t W_hh (+ z dh_t for GRU),
    # dW_ih = sum_t dA_t^T x_t,  dW_hh = sum_t dA_t^T h_{t-1},  dx_t = dA_t W_ih
    _name = "RecurrentLayerBackward0"

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, mode, reverse, batch_sizes):
        xp = of(x)
        T, B, _ = x.shape
        GH = w_ih.shape[0]
        H = GH // GATES[mode]
        P = w_hh.shape[1]  # size of the recurrent state h (proj_size or hidden_size)
        dt = x.dtype
        gates = jit = None
        if mode == "LSTM" and uses_jit_cell(xp, dt):
            jit, scale = lstm_kernels(), None  # the kernel takes the raw pre-activations
        elif mode == "LSTM":
            gates = (LstmGatesExp if uses_exp_gates(xp) else LstmGatesTanh)(xp, H, dt)
            scale = gates.scale
        else:
            scale = _gate_scale(xp, mode, H, dt)
        wi, wh = (w_ih, w_hh) if scale is None else (w_ih * scale[:, None], w_hh * scale[:, None])
        bi = None if b_ih is None else (b_ih if scale is None else b_ih * scale)
        bh = None if b_hh is None else (b_hh if scale is None else b_hh * scale)
        xs = x[::-1] if reverse else x  # step order
        XW = (xs.reshape(T * B, -1) @ wi.T).reshape(T, B, GH)
        if mode == "GRU":
            if bi is not None:
                XW += bi
            if bh is not None:  # b_hn stays inside r * (W_hn h + b_hn)
                XW[..., : 2 * H] += bh[: 2 * H]
        elif bi is not None or bh is not None:  # one pass over (T, B, G) with b_ih + b_hh
            XW += bi if bh is None else (bh if bi is None else bi + bh)
        product = hidden_product_transposed if uses_transposed_product(xp, B, P) else hidden_product
        hw_of = product(xp, wh, B)  # h -> h @ wh.T
        steps = _steps(T, B, batch_sizes, reverse)
        packed = batch_sizes is not None
        Hs = xp.empty((T + 1, B, P), dtype=dt)  # Hs[s] = state before step s
        Hs[0] = 0 if h0 is None else h0
        if mode == "LSTM":
            G, C, TC = XW, xp.empty((T + 1, B, H), dtype=dt), xp.empty((T, B, H), dtype=dt)
            C[0] = 0 if c0 is None else c0
            M = xp.empty((T, B, H), dtype=dt) if w_hr is not None else None
            with np.errstate(over="ignore"):  # LstmGatesExp: exp(-a) = inf gives 0 exactly
                for s, b in enumerate(steps):
                    g = G[s, :b]
                    g += hw_of(Hs[s, :b])
                    if jit is not None:  # fast path of the rest of this step
                        hm = Hs[s + 1, :b] if M is None else M[s, :b]
                        jit[0](g, C[s, :b], C[s + 1, :b], TC[s, :b], hm)
                        if M is not None:
                            xp.matmul(hm, w_hr.T, out=Hs[s + 1, :b])
                        if packed and b < B:
                            Hs[s + 1, b:] = Hs[s, b:]
                            C[s + 1, b:] = C[s, b:]
                        continue
                    gates(xp, g)  # i, f, o = sigmoid, g = tanh of the pre-activations
                    c = C[s + 1, :b]
                    xp.multiply(g[:, H : 2 * H], C[s, :b], out=c)  # c = f c_prev + i g
                    c += g[:, :H] * g[:, 2 * H : 3 * H]
                    tc = TC[s, :b]
                    xp.tanh(c, out=tc)
                    if M is None:
                        xp.multiply(g[:, 3 * H :], tc, out=Hs[s + 1, :b])
                    else:
                        m = M[s, :b]
                        xp.multiply(g[:, 3 * H :], tc, out=m)
                        xp.matmul(m, w_hr.T, out=Hs[s + 1, :b])
                    if packed and b < B:
                        Hs[s + 1, b:] = Hs[s, b:]
                        C[s + 1, b:] = C[s, b:]
            store = (G, C, TC, M)
        elif mode == "GRU":
            A, HN = XW, xp.empty((T, B, H), dtype=dt)
            bhn = None if bh is None else bh[2 * H :]
            for s, b in enumerate(steps):
                hp = Hs[s, :b]
                hw = hw_of(hp)
                a = A[s, :b]
                a[:, : 2 * H] += hw[:, : 2 * H]
                xp.tanh(a[:, : 2 * H], out=a[:, : 2 * H])
                _sig_from_tanh(a[:, : 2 * H])
                hn = HN[s, :b]
                if bhn is not None:
                    xp.add(hw[:, 2 * H :], bhn, out=hn)
                else:
                    hn[...] = hw[:, 2 * H :]
                n = a[:, 2 * H :]
                n += a[:, :H] * hn
                xp.tanh(n, out=n)
                h = Hs[s + 1, :b]  # h = n + z (h_prev - n)
                xp.subtract(hp, n, out=h)
                h *= a[:, H : 2 * H]
                h += n
                if packed and b < B:
                    Hs[s + 1, b:] = Hs[s, b:]
            store = (A, HN)
        else:
            A = XW
            for s, b in enumerate(steps):
                a = A[s, :b]
                a += hw_of(Hs[s, :b])
                if mode == "RNN_TANH":
                    xp.tanh(a, out=a)
                else:
                    xp.maximum(a, 0, out=a)
                Hs[s + 1, :b] = a
                if packed and b < B:
                    Hs[s + 1, b:] = Hs[s, b:]
            store = (A,)
        n_out, n_h = T * B * P, B * P
        flat = xp.empty(n_out + n_h + (B * H if mode == "LSTM" else 0), dtype=dt)
        Y = flat[:n_out].reshape(T, B, P)
        Y[...] = Hs[1:][::-1] if reverse else Hs[1:]
        if packed:  # padding positions of a packed output are zeros (they are never read)
            for s, b in enumerate(steps):
                if b < B:
                    Y[T - 1 - s if reverse else s, b:] = 0
        flat[n_out : n_out + n_h] = Hs[T].reshape(-1)
        if mode == "LSTM":
            flat[n_out + n_h :] = C[T].reshape(-1)
        ctx.save_for_backward(x, w_ih, w_hh, w_hr, Hs, *store)
        ctx.meta = (mode, reverse, steps, H, P, h0 is not None, c0 is not None, b_ih is not None)
        return flat

    @staticmethod
    def backward(ctx, gflat):
        if isinstance(gflat, Tensor):
            raise RuntimeError(_ERR_DOUBLE)
        mode, reverse, steps, H, P, has_h0, has_c0, has_bias = ctx.meta
        x, w_ih, w_hh, w_hr, Hs = ctx.saved[:5]
        store = ctx.saved[5:]
        xp = of(x)
        T, B, _ = x.shape
        n_out, n_h = T * B * P, B * P
        gY = gflat[:n_out].reshape(T, B, P)
        if reverse:
            gY = gY[::-1]  # step order
        dh = gflat[n_out : n_out + n_h].reshape(B, P).copy()
        packed = steps[0] != B or steps[-1] != B
        alloc = xp.zeros if packed else xp.empty
        if mode == "LSTM":
            G, C, TC, M = store
            dc = gflat[n_out + n_h :].reshape(B, H).copy()
            dA = alloc((T, B, 4 * H), dtype=x.dtype)
            dHt = alloc((T, B, P), dtype=x.dtype) if M is not None else None
            D = xp.empty((B, 4 * H), dtype=x.dtype)
            T1, T2 = xp.empty((B, H), dtype=x.dtype), xp.empty((B, H), dtype=x.dtype)
            jit = lstm_kernels() if uses_jit_cell(xp, x.dtype) else None
            for s in range(T - 1, -1, -1):
                b = steps[s]
                dhb = dh[:b]
                dhb += gY[s, :b]
                if M is not None:
                    dHt[s, :b] = dhb
                    dm = dhb @ w_hr
                else:
                    dm = dhb
                g = G[s, :b]
                tc = TC[s, :b]
                d, dcb = dA[s, :b], dc[:b]
                if jit is not None:  # fast path of the gate gradients below
                    jit[1](g, tc, C[s, :b], dm, dcb, d)
                    xp.matmul(d, w_hh, out=dhb)
                    continue
                i, f, gg, o = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
                der, t1, t2 = D[:b], T1[:b], T2[:b]
                # gate derivatives on whole rows (faster than strided per-gate blocks):
                # s (1 - s) for i, f, o and 1 - g^2 for g
                xp.subtract(1, g, out=der)
                der *= g
                dg = der[:, 2 * H : 3 * H]
                xp.multiply(gg, gg, out=dg)
                xp.subtract(1, dg, out=dg)
                xp.multiply(tc, tc, out=t1)  # dc += dh o (1 - tanh(c)^2)
                xp.subtract(1, t1, out=t1)
                xp.multiply(dm, o, out=t2)
                t2 *= t1
                dcb += t2
                xp.multiply(dcb, gg, out=d[:, :H])  # di = dc g i (1 - i)
                xp.multiply(dcb, C[s, :b], out=d[:, H : 2 * H])  # df = dc c_prev f (1 - f)
                xp.multiply(dcb, i, out=d[:, 2 * H : 3 * H])  # dg = dc i (1 - g^2)
                xp.multiply(dm, tc, out=d[:, 3 * H :])  # do = dh tanh(c) o (1 - o)
                d *= der
                dcb *= f
                xp.matmul(d, w_hh, out=dhb)
            dXA = dHA = dA
        elif mode == "GRU":
            A, HN = store
            dXA = alloc((T, B, 3 * H), dtype=x.dtype)
            dHA = alloc((T, B, 3 * H), dtype=x.dtype)
            dc = None
            for s in range(T - 1, -1, -1):
                b = steps[s]
                dhb = dh[:b]
                dhb += gY[s, :b]
                a = A[s, :b]
                r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
                hn = HN[s, :b]
                dX, dH = dXA[s, :b], dHA[s, :b]
                dan = dX[:, 2 * H :]
                xp.multiply(dhb * (1 - z), 1 - n * n, out=dan)
                xp.multiply(dan * hn, r * (1 - r), out=dX[:, :H])
                xp.multiply(dhb * (Hs[s, :b] - n), z * (1 - z), out=dX[:, H : 2 * H])
                dH[:, : 2 * H] = dX[:, : 2 * H]
                xp.multiply(dan, r, out=dH[:, 2 * H :])
                dhb *= z
                dhb += dH @ w_hh
        else:
            (A,) = store
            dA = alloc(A.shape, dtype=x.dtype)
            dc = None
            for s in range(T - 1, -1, -1):
                b = steps[s]
                dhb = dh[:b]
                dhb += gY[s, :b]
                h = A[s, :b]
                d = dA[s, :b]
                if mode == "RNN_TANH":
                    xp.multiply(dhb, 1 - h * h, out=d)
                else:
                    xp.multiply(dhb, h > 0, out=d)
                xp.matmul(d, w_hh, out=dhb)
            dXA = dHA = dA
        n = ctx.needs_input_grad
        GH = w_ih.shape[0]
        dX2 = dXA.reshape(T * B, GH)
        dH2 = dHA.reshape(T * B, GH)
        gx = gw_ih = gw_hh = gb_ih = gb_hh = gw_hr = None
        if n[0]:
            gx = (dX2 @ w_ih).reshape(x.shape)
            if reverse:
                gx = gx[::-1]
        if n[3]:
            xs = x[::-1] if reverse else x
            gw_ih = dX2.T @ xs.reshape(T * B, -1)
        if n[4]:
            gw_hh = dH2.T @ Hs[:T].reshape(T * B, P)
        if has_bias:
            gb_ih = dX2.sum(axis=0) if n[5] else None
            if n[6]:  # LSTM / RNN: both biases see the same pre-activation gradient
                gb_hh = gb_ih.copy() if gb_ih is not None and dHA is dXA else dH2.sum(axis=0)
        if w_hr is not None and n[7]:
            gw_hr = dHt.reshape(T * B, P).T @ store[3].reshape(T * B, H)
        gh0 = dh if has_h0 and n[1] else None
        gc0 = dc if has_c0 and n[2] else None
        return gx, gh0, gc0, gw_ih, gw_hh, gb_ih, gb_hh, gw_hr, None, None, None
