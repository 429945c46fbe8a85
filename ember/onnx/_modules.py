"""Module-level ONNX conversions: modules whose traced primitives would fix the batch or sequence
length (recurrent layers as one fused primitive per layer over a flat buffer, attention's
head reshapes, instance norm's repeat trick) are converted as a whole. export() puts a pre- and
a post-forward hook on each such module: the primitives recorded in between are dropped and the
module's outputs are bound to the nodes written here (torch.onnx's symbolic_opset9 does the
same for aten::lstm/gru/rnn_*, instance_norm and multi_head_attention)."""

from __future__ import annotations

import inspect
import math

import numpy as np

import ember
from ember.onnx._graph import Builder, UnsupportedOperatorError

MODULE_CONVERTERS: dict = {}


def _converts(*names: str):
    def register(fn):
        for n in names:
            MODULE_CONVERTERS[n] = fn
        return fn

    return register


def converter_for(module):
    """The conversion for an ember module whose forward is ember's own (None otherwise)."""
    owner = next((c for c in type(module).__mro__ if "forward" in c.__dict__), None)
    if owner is None or not owner.__module__.startswith("ember.nn"):
        return None  # a subclass with its own forward is traced as it runs
    for cls in type(module).__mro__:
        fn = MODULE_CONVERTERS.get(cls.__name__)
        if fn is not None and cls.__module__.startswith("ember.nn"):
            return fn
    return None


def bound_args(module, args, kwargs) -> dict:
    sig = inspect.signature(type(module).forward)
    ba = sig.bind(module, *args, **kwargs)
    ba.apply_defaults()
    return dict(ba.arguments)


def _np(t) -> np.ndarray:
    return ember._backend.to_numpy(t.detach()._data)


def _reduce_mean(b: Builder, x: str, axes: list, keepdims: int) -> str:
    if b.opset >= 18:
        return b.op("ReduceMean", x, b.ints(axes), keepdims=keepdims)
    return b.op("ReduceMean", x, axes=axes, keepdims=keepdims)


def _dim(b: Builder, x: str, axis: int) -> str:
    """Shape(x)[axis] as an int64 scalar."""
    return b.op("Gather", b.op("Shape", x), b.const(np.int64(axis)), axis=0)


def causal_bias(b: Builder, q: str, q_axis: int, k: str, k_axis: int, dtype) -> str:
    """(L, S) float mask, -inf where key index > query index, with L, S read at run time."""
    one, zero = b.const(np.int64(1)), b.const(np.int64(0))
    rows = b.op("Unsqueeze", b.op("Range", zero, _dim(b, q, q_axis), one), b.ints([1]))
    cols = b.op("Unsqueeze", b.op("Range", zero, _dim(b, k, k_axis), one), b.ints([0]))
    return b.op(
        "Where", b.op("Greater", cols, rows), b.const(-np.inf, dtype=dtype), b.const(0.0, dtype=dtype)
    )


def zero_dead_rows(b: Builder, p: str, dtype) -> str:
    """Softmax rows whose every score was -inf are NaN in ONNX; ember's fused attention (as
    torch's CPU kernel) gives zeros there."""
    return b.op("Where", b.op("IsNaN", p), b.const(0.0, dtype=dtype), p)


def is_causal_float(arr) -> bool:
    """arr is the square float mask generate_square_subsequent_mask makes (0 on and below the
    diagonal, -inf above)."""
    arr = np.asarray(arr)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.dtype.kind != "f":
        return False
    want = np.triu(np.full(arr.shape, -np.inf, dtype=arr.dtype), 1)
    return bool(np.array_equal(arr, want))


# -- recurrent layers ---------------------------------------------------------------------------
# ONNX gate order vs torch's: LSTM iofc vs ifgo, GRU zrh vs rzn (symbolic_opset9's reform_weights)
_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}
_ONNX_OP = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def _reorder(w: np.ndarray, mode: str, H: int) -> np.ndarray:
    return np.concatenate([w[g * H : (g + 1) * H] for g in _ORDER[mode]], axis=0)


@_converts("RNNBase")
def _rnn(b: Builder, m, a: dict, out) -> None:
    from ember.nn.utils.rnn import PackedSequence

    mode = m.mode
    name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
    x, hx = a["input"], a.get("hx")
    if isinstance(x, PackedSequence):
        raise UnsupportedOperatorError(
            f"Exporting the operator '{name}' with a PackedSequence input to ONNX opset version {b.opset} "
            "is not supported; pass the padded tensor"
        )
    D = 2 if m.bidirectional else 1
    H = m.hidden_size
    batched = x.ndim == 3
    xs = b.value(x)
    if not batched:
        xs = b.op("Unsqueeze", xs, b.ints([1]))
    elif m.batch_first:
        xs = b.op("Transpose", xs, perm=[1, 0, 2])
    h0 = c0 = None
    if hx is not None:
        h0, c0 = hx if mode == "LSTM" else (hx, None)
    states = []
    for s in (h0, c0):
        if s is None:
            states.append(None)
            continue
        sn = b.value(s)
        states.append(b.op("Unsqueeze", sn, b.ints([1])) if not batched else sn)
    hs, cs = [], []
    for layer in range(m.num_layers):
        if m.proj_size > 0:  # ONNX's LSTM has no projection: a Scan over the time steps
            xs, h_l, c_l = _lstm_proj_layer(b, m, layer, xs, states, x.dtype.np)
            hs.append(h_l)
            cs.append(c_l)
            continue
        ws, rs, bs = [], [], []
        for d in range(D):
            names = m._all_weights[layer * D + d]
            p = [_np(getattr(m, n)) for n in names]
            ws.append(_reorder(p[0], mode, H))
            rs.append(_reorder(p[1], mode, H))
            if m.bias:
                bs.append(np.concatenate([_reorder(p[2], mode, H), _reorder(p[3], mode, H)]))
        ins = [
            xs,
            b.const(np.stack(ws), hint=f"{name}_W_l{layer}"),
            b.const(np.stack(rs), hint=f"{name}_R_l{layer}"),
        ]
        ins.append(b.const(np.stack(bs), hint=f"{name}_B_l{layer}") if m.bias else "")
        ins.append("")  # sequence_lens
        for s in states[: 2 if mode == "LSTM" else 1]:
            ins.append(
                ""
                if s is None
                else b.op("Slice", s, b.ints([layer * D]), b.ints([layer * D + D]), b.ints([0]))
            )
        while ins[-1] == "":
            ins.pop()
        attrs = {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"}
        if mode == "GRU":
            attrs["linear_before_reset"] = 1  # torch: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        if mode.startswith("RNN_"):
            attrs["activations"] = ["Relu" if mode == "RNN_RELU" else "Tanh"] * D
        outs = b.node(_ONNX_OP[mode], ins, 3 if mode == "LSTM" else 2, **attrs)
        y = outs[0]  # (T, D, B, H)
        if D == 1:
            xs = b.op("Squeeze", y, b.ints([1]))
        else:
            xs = b.op("Reshape", b.op("Transpose", y, perm=[0, 2, 1, 3]), b.ints([0, 0, -1]))
        hs.append(outs[1])
        if mode == "LSTM":
            cs.append(outs[2])
    y = xs
    if not batched:
        y = b.op("Squeeze", y, b.ints([1]))
    elif m.batch_first:
        y = b.op("Transpose", y, perm=[1, 0, 2])
    finals = []
    for group in (hs, cs) if mode == "LSTM" else (hs,):
        f = group[0] if len(group) == 1 else b.op("Concat", *group, axis=0)
        finals.append(b.op("Squeeze", f, b.ints([1])) if not batched else f)
    output, hidden = out
    b.bind(output, y)
    if mode == "LSTM":
        b.bind(hidden[0], finals[0])
        b.bind(hidden[1], finals[1])
    else:
        b.bind(hidden, finals[0])


def _lstm_proj_layer(b: Builder, m, layer: int, xs: str, states: list, dt):
    """One layer (both directions) of an LSTM with proj_size as ONNX Scan nodes; returns the
    layer's output (T, B, D*P) and its final h (D, B, P) and c (D, B, H)."""
    from onnx import helper

    D = 2 if m.bidirectional else 1
    H, P = m.hidden_size, m.proj_size
    ys, hs, cs = [], [], []
    for d in range(D):
        k = layer * D + d
        p = [_np(getattr(m, n)) for n in m._all_weights[k]]
        w_ih, w_hh, w_hr = p[0], p[1], p[-1]
        init = []
        for s_, size in zip(states, (P, H)):
            if s_ is None:  # zeros (B, size), B read from x at run time
                shape = b.op("Concat", b.op("Slice", b.op("Shape", xs), b.ints([1]), b.ints([2]), b.ints([0])),
                             b.ints([size]), axis=0)  # fmt: skip
                zero = helper.make_tensor("zero", _elem(dt), [1], [0.0])
                init.append(b.op("ConstantOfShape", shape, value=zero))
            else:
                init.append(
                    b.op("Squeeze", b.op("Slice", s_, b.ints([k]), b.ints([k + 1]), b.ints([0])), b.ints([0]))
                )
        # the body: gates = x W_ih^T + h W_hh^T + b; c = f c + i g; h = (o tanh c) W_hr^T
        outer = b.nodes
        b.nodes = []
        hp, cp, xt = b.fresh("h_prev"), b.fresh("c_prev"), b.fresh("x_t")
        g = b.op("Add", b.op("MatMul", xt, b.const(np.ascontiguousarray(w_ih.T))),
                 b.op("MatMul", hp, b.const(np.ascontiguousarray(w_hh.T))))  # fmt: skip
        if m.bias:
            g = b.op("Add", g, b.const(p[2] + p[3]))
        gi, gf, gg, go = b.node("Split", [g, b.ints([H] * 4)], 4, axis=1)
        c = b.op(
            "Add", b.op("Mul", b.op("Sigmoid", gf), cp), b.op("Mul", b.op("Sigmoid", gi), b.op("Tanh", gg))
        )
        h = b.op(
            "MatMul", b.op("Mul", b.op("Sigmoid", go), b.op("Tanh", c)), b.const(np.ascontiguousarray(w_hr.T))
        )
        y = b.op("Identity", h)
        body_nodes, b.nodes = b.nodes, outer
        et = _elem(dt)
        body = helper.make_graph(
            body_nodes, f"lstm_l{layer}_d{d}",
            [helper.make_tensor_value_info(hp, et, None), helper.make_tensor_value_info(cp, et, None),
             helper.make_tensor_value_info(xt, et, None)],
            [helper.make_tensor_value_info(n, et, None) for n in (h, c, y)],
        )  # fmt: skip
        h_n, c_n, y_all = b.node(
            "Scan", [init[0], init[1], xs], 3, body=body, num_scan_inputs=1,
            scan_input_directions=[d], scan_output_directions=[d],
        )  # fmt: skip
        ys.append(y_all)
        hs.append(b.op("Unsqueeze", h_n, b.ints([0])))
        cs.append(b.op("Unsqueeze", c_n, b.ints([0])))
    if D == 1:
        return ys[0], hs[0], cs[0]
    return b.op("Concat", *ys, axis=2), b.op("Concat", *hs, axis=0), b.op("Concat", *cs, axis=0)


# -- attention ------------------------------------------------------------------------------------
def _float_mask(b: Builder, mask, dtype, true_is_masked: bool = True) -> str:
    """A float additive mask from a bool (True: masked) or float mask tensor."""
    name = b.value(mask)
    if mask.dtype == ember.bool:
        neg, zero = b.const(-np.inf, dtype=dtype), b.const(0.0, dtype=dtype)
        return b.op("Where", name, neg, zero) if true_is_masked else b.op("Where", name, zero, neg)
    if mask.dtype.np != np.dtype(dtype):
        return b.op("Cast", name, to=_elem(dtype))
    return name


def _elem(dtype) -> int:
    from onnx import helper

    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _linear(b: Builder, x: str, w: np.ndarray, bias, hint: str) -> str:
    y = b.op("MatMul", x, b.const(np.ascontiguousarray(w.T), hint=hint + "_weight_T"))
    return y if bias is None else b.op("Add", y, b.const(bias, hint=hint + "_bias"))


@_converts("MultiheadAttention")
def _mha(b: Builder, m, a: dict, out) -> None:
    if m.bias_k is not None or m.add_zero_attn:
        raise UnsupportedOperatorError(
            "Exporting the operator 'MultiheadAttention' with add_bias_kv=True or add_zero_attn=True to ONNX "
            f"opset version {b.opset} is not supported"
        )
    query, key, value = a["query"], a["key"], a["value"]
    kpm, attn_mask = a.get("key_padding_mask"), a.get("attn_mask")
    need_weights, avg, is_causal = (
        a.get("need_weights", True),
        a.get("average_attn_weights", True),
        a.get("is_causal", False),
    )
    dt = query.dtype.np
    E, Hn = m.embed_dim, m.num_heads
    hd = E // Hn
    batched = query.ndim == 3
    cache: dict = {}

    def seq_first(t):
        if id(t) not in cache:
            n = b.value(t)
            if not batched:
                n = b.op("Unsqueeze", n, b.ints([1]))
            elif m.batch_first:
                n = b.op("Transpose", n, perm=[1, 0, 2])
            cache[id(t)] = n
        return cache[id(t)]

    qs, ks, vs = seq_first(query), seq_first(key), seq_first(value)  # (L, N, E), (S, N, kdim), ...
    if m._qkv_same_embed_dim:
        w = _np(m.in_proj_weight)
        wq, wk, wv = w[:E], w[E : 2 * E], w[2 * E :]
    else:
        wq, wk, wv = _np(m.q_proj_weight), _np(m.k_proj_weight), _np(m.v_proj_weight)
    bq = bk = bv = None
    if m.in_proj_bias is not None:
        bias = _np(m.in_proj_bias)
        bq, bk, bv = bias[:E], bias[E : 2 * E], bias[2 * E :]

    def heads(x: str, w, bias, hint: str, perm) -> str:  # (T, N, E) -> (N, H, T, hd) (or perm'd)
        y = _linear(b, x, w, bias, hint)
        return b.op("Transpose", b.op("Reshape", y, b.ints([0, 0, Hn, hd])), perm=perm)

    q = heads(
        qs,
        wq * np.asarray(1.0 / math.sqrt(hd), dtype=wq.dtype),
        None if bq is None else bq / np.asarray(math.sqrt(hd), dtype=bq.dtype),
        "q_proj",
        [1, 2, 0, 3],
    )
    k = heads(ks, wk, bk, "k_proj", [1, 2, 3, 0])  # (N, H, hd, S)
    v = heads(vs, wv, bv, "v_proj", [1, 2, 0, 3])
    scores = b.op("MatMul", q, k)  # (N, H, L, S)
    causal_hint = is_causal and kpm is None and not need_weights  # torch then drops attn_mask for is_causal
    if causal_hint or (
        attn_mask is not None
        and not b.traced(attn_mask)
        and b.mask_of(_np(attn_mask)) is None
        and _is_causal_mask(attn_mask)
    ):
        scores = b.op("Add", scores, causal_bias(b, qs, 0, ks, 0, dt))
    elif attn_mask is not None:
        am = _float_mask(b, attn_mask, dt)
        if attn_mask.ndim == 3:  # (N*H, L, S) -> (N, H, L, S)
            tail = b.op("Slice", b.op("Shape", am), b.ints([1]), b.ints([3]), b.ints([0]))
            am = b.op("Reshape", am, b.op("Concat", b.ints([-1, Hn]), tail, axis=0))
        scores = b.op("Add", scores, am)
    if kpm is not None:
        km = _float_mask(b, kpm, dt)
        km = b.op("Unsqueeze", km, b.ints([1, 2] if batched else [0, 1, 2]))  # (N, 1, 1, S)
        scores = b.op("Add", scores, km)
    p = b.op("Softmax", scores, axis=-1)
    if not need_weights and (attn_mask is not None or kpm is not None or causal_hint):
        p = zero_dead_rows(b, p, dt)  # the sdpa path: rows with every key masked give 0
    o = b.op("Transpose", b.op("MatMul", p, v), perm=[2, 0, 1, 3])  # (L, N, H, hd)
    o = b.op("Reshape", o, b.ints([0, 0, -1]))
    ob = None if m.out_proj.bias is None else _np(m.out_proj.bias)
    o = _linear(b, o, _np(m.out_proj.weight), ob, "out_proj")
    if not batched:
        o = b.op("Squeeze", o, b.ints([1]))
    elif m.batch_first:
        o = b.op("Transpose", o, perm=[1, 0, 2])
    b.bind(out[0], o)
    if out[1] is not None:
        wts = _reduce_mean(b, p, [1], 0) if avg else p
        if not batched:
            wts = b.op("Squeeze", wts, b.ints([0]))
        b.bind(out[1], wts)


def _is_causal_mask(mask) -> bool:
    arr = _np(mask)
    if arr.dtype == np.bool_:  # MultiheadAttention's bool masks: True = not allowed to attend
        return (
            arr.ndim == 2
            and arr.shape[0] == arr.shape[1]
            and bool(np.array_equal(arr, np.triu(np.ones(arr.shape, bool), 1)))
        )
    return is_causal_float(arr)


# -- instance norm ----------------------------------------------------------------------------------
@_converts("_InstanceNorm")
def _instance_norm(b: Builder, m, a: dict, out) -> None:
    x = a["input"]
    unbatched = x.ndim == m._no_batch_dim
    xs = b.value(x)
    if unbatched:
        xs = b.op("Unsqueeze", xs, b.ints([0]))
    c = x.shape[0 if unbatched else 1]
    dt = x.dtype.np
    scale = b.const(_np(m.weight)) if m.weight is not None else b.const(np.ones(c, dt))
    shift = b.const(_np(m.bias)) if m.bias is not None else b.const(np.zeros(c, dt))
    if m.training or not m.track_running_stats:
        y = b.op("InstanceNormalization", xs, scale, shift, epsilon=float(m.eps))
    else:  # eval with running statistics: each channel normalised by running_mean/var, as batch norm
        y = b.op("BatchNormalization", xs, scale, shift, b.const(_np(m.running_mean)), b.const(_np(m.running_var)),
                 epsilon=float(m.eps))  # fmt: skip
    if unbatched:
        y = b.op("Squeeze", y, b.ints([0]))
    b.bind(out, y)


__all__ = ["MODULE_CONVERTERS", "bound_args", "causal_bias", "converter_for", "is_causal_float"]
