"""ONNX conversions for ember's primitives, one function per primitive class name (looked up
along the class's MRO). Each gets the builder, the primitive's arguments as `apply` received
them (Tensors and Python values), its keywords and its output; it returns the output's name."""

from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto

import ember
from ember.onnx._graph import Builder, UnsupportedOperatorError, elem_type, elem_type_np

_INT64_MAX = 2**63 - 1
CONVERTERS: dict = {}


def converts(*names: str):
    def register(fn):
        for n in names:
            CONVERTERS[n] = fn
        return fn

    return register


def convert(b: Builder, fn_cls, args, kw, out) -> str:
    for cls in fn_cls.__mro__:
        fn = CONVERTERS.get(cls.__name__)
        if fn is not None:
            return fn(b, args, kw, out)
    raise UnsupportedOperatorError(
        f"Exporting the operator '{fn_cls.__name__}' (ember.ops primitive, from "
        f"{fn_cls.__module__}) to ONNX opset version {b.opset} is not supported."
    )


def foldable(b: Builder, fn_cls, args) -> bool:
    """Whether an op on constants only may become a constant: not a slice of a table whose stop
    is a dynamic axis's traced length (`pe[: x.size(0)]`), which _getitem keeps dynamic."""
    if fn_cls.__name__ == "GetItem":
        a, key = args
        key = key if isinstance(key, tuple) else (key,)
        for i, k in enumerate(key):
            if (
                isinstance(k, slice)
                and k.start in (None, 0)
                and k.step in (None, 1)
                and isinstance(k.stop, int)
            ):
                if i < a.ndim and k.stop < a.shape[i] and b.dyn_dim(k.stop) is not None:
                    return False
    return True


def _v(b: Builder, x, like=None) -> str:
    return b.value(x, like)


# -- elementwise ------------------------------------------------------------------------------
for _name, _onnx in (("Add", "Add"), ("Sub", "Sub"), ("Mul", "Mul"), ("Div", "Div"), ("Pow", "Pow"),
                     ("Maximum", "Max")):  # fmt: skip

    def _binary(b, args, kw, out, _op=_onnx):
        x, y = args[0], args[1]
        like = x if isinstance(x, ember.Tensor) else y
        xa = _v(b, x, like)
        if _op == "Pow" and isinstance(y, (int, float)):
            return b.op(_op, xa, b.const(y, dtype=out.dtype.np))
        return b.op(_op, xa, _v(b, y, like))

    CONVERTERS[_name] = _binary

for _name, _onnx in (("Neg", "Neg"), ("Exp", "Exp"), ("Log", "Log"), ("Sqrt", "Sqrt"), ("Tanh", "Tanh"),
                     ("Sigmoid", "Sigmoid"), ("Relu", "Relu"), ("Abs", "Abs"), ("Sign", "Sign"),
                     ("Clone", "Identity"), ("HookIdentity", "Identity")):  # fmt: skip

    def _unary(b, args, kw, out, _op=_onnx):
        return b.op(_op, _v(b, args[0]))

    CONVERTERS[_name] = _unary


@converts("ToCopy")
def _to_copy(b, args, kw, out):
    return b.op("Cast", _v(b, args[0]), to=elem_type(out.dtype))


@converts("Where")
def _where(b, args, kw, out):
    c, x, y = args
    return b.op("Where", _v(b, c), _v(b, x, out), _v(b, y, out))


# -- comparisons, logical and bitwise ops (ops/compare.py reports them to the tracer) -----------
def _operands(b, args, dtype=None) -> list[str]:
    """Both operands' names in their promoted dtype (or `dtype`): ONNX's comparisons and logical
    ops take one type; a Python number becomes a constant of it."""
    from ember.ops._promote import result_dtype

    raw = [a._data if isinstance(a, ember.Tensor) else a for a in args]
    dt = np.dtype(dtype) if dtype is not None else result_dtype(*raw).np
    names = []
    for a in args:
        if isinstance(a, (ember.Tensor, np.ndarray)):
            n = _v(b, a)
            if np.dtype(a.dtype.np if isinstance(a, ember.Tensor) else a.dtype) != dt:
                n = b.op("Cast", n, to=elem_type_np(dt))
        else:
            n = b.const(a, dtype=dt)
        names.append(n)
    return names


for _name, _onnx in (("Eq", "Equal"), ("Ne", "Equal"), ("Lt", "Less"), ("Le", "LessOrEqual"),
                     ("Gt", "Greater"), ("Ge", "GreaterOrEqual")):  # fmt: skip

    def _compare(b, args, kw, out, _op=_onnx, _not=_name == "Ne"):
        from ember.ops._promote import result_dtype

        raw = [a._data if isinstance(a, ember.Tensor) else a for a in args]
        dt = result_dtype(*raw).np
        if dt == np.bool_ and _op != "Equal":  # ONNX orders numbers only
            dt = np.dtype(np.int32)
        y = b.op(_op, *_operands(b, args, dt))
        return b.op("Not", y) if _not else y

    CONVERTERS[_name] = _compare

for _name, _onnx in (("LogicalAnd", "And"), ("LogicalOr", "Or"), ("LogicalXor", "Xor")):

    def _logical(b, args, kw, out, _op=_onnx):
        return b.op(_op, *_operands(b, args, np.bool_))

    CONVERTERS[_name] = _logical


@converts("LogicalNot")
def _logical_not(b, args, kw, out):
    return b.op("Not", *_operands(b, args, np.bool_))


for _name, _bool, _int in (("BitwiseAnd", "And", "BitwiseAnd"), ("BitwiseOr", "Or", "BitwiseOr"),
                           ("BitwiseXor", "Xor", "BitwiseXor"), ("BitwiseNot", "Not", "BitwiseNot")):  # fmt: skip

    def _bitwise(b, args, kw, out, _bool=_bool, _int=_int):
        if out.dtype == ember.bool:
            return b.op(_bool, *_operands(b, args, np.bool_))
        if b.opset < 18:
            raise UnsupportedOperatorError(
                f"Exporting the operator '{_int}' on integer tensors to ONNX opset version {b.opset} is not "
                "supported (Bitwise* needs opset 18)"
            )
        return b.op(_int, *_operands(b, args, out.dtype.np))

    CONVERTERS[_name] = _bitwise


@converts("SetItem")
def _setitem(b, args, kw, out):
    # masked_fill (and a[mask] = scalar): Where(mask, value, a)
    a, key, v = args
    scalar = not isinstance(v, ember.Tensor) or v.ndim == 0
    if not (isinstance(key, np.ndarray) and key.dtype == np.bool_ and key.shape == tuple(a.shape) and scalar):
        raise UnsupportedOperatorError(
            "Exporting the operator 'SetItem' (index assignment) to ONNX opset version "
            f"{b.opset} is supported only for a bool mask and a scalar value (masked_fill)"
        )
    val = _v(b, v) if isinstance(v, ember.Tensor) else b.const(v, dtype=out.dtype.np)
    if isinstance(v, ember.Tensor) and v.dtype != out.dtype:
        val = b.op("Cast", val, to=elem_type(out.dtype))
    return b.op("Where", b.array_value(key), val, _v(b, a))


def _clip(b, x, lo, hi, dtype) -> str:
    lo_name = "" if lo is None else _v(b, lo) if isinstance(lo, ember.Tensor) else b.const(lo, dtype=dtype)
    hi_name = "" if hi is None else _v(b, hi) if isinstance(hi, ember.Tensor) else b.const(hi, dtype=dtype)
    return b.op("Clip", x, lo_name, hi_name)


@converts("Clamp")
def _clamp(b, args, kw, out):
    a, lo, hi = args
    return _clip(b, _v(b, a), lo, hi, out.dtype.np)


@converts("Hardtanh")
def _hardtanh(b, args, kw, out):
    lo = args[1] if len(args) > 1 else kw.get("lo", -1.0)
    hi = args[2] if len(args) > 2 else kw.get("hi", 1.0)
    return _clip(b, _v(b, args[0]), lo, hi, out.dtype.np)


@converts("LeakyRelu")
def _leaky_relu(b, args, kw, out):
    return b.op("LeakyRelu", _v(b, args[0]), alpha=float(args[1]))


@converts("Elu")
def _elu(b, args, kw, out):
    alpha = float(args[1])
    scale = float(args[2]) if len(args) > 2 else 1.0
    if scale == 1.0:
        return b.op("Elu", _v(b, args[0]), alpha=alpha)
    return b.op("Selu", _v(b, args[0]), alpha=alpha, gamma=scale)


@converts("Silu")
def _silu(b, args, kw, out):
    x = _v(b, args[0])
    return b.op("Mul", x, b.op("Sigmoid", x))


@converts("Softplus")
def _softplus(b, args, kw, out):
    beta = float(args[1]) if len(args) > 1 else 1.0
    x = _v(b, args[0])
    if beta == 1.0:
        return b.op("Softplus", x)
    k = b.const(beta, dtype=out.dtype.np)
    return b.op("Div", b.op("Softplus", b.op("Mul", x, k)), k)


@converts("Gelu")
def _gelu(b, args, kw, out):
    approx = args[1] if len(args) > 1 else kw.get("approximate", "none")
    x = _v(b, args[0])
    dt = out.dtype.np
    if b.opset >= 20:
        return b.op("Gelu", x, approximate=approx)
    half = b.op("Mul", x, b.const(0.5, dtype=dt))
    if approx == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = b.op("Mul", b.op("Mul", x, x), x)
        inner = b.op("Add", x, b.op("Mul", cube, b.const(0.044715, dtype=dt)))
        t = b.op("Tanh", b.op("Mul", inner, b.const(math.sqrt(2 / math.pi), dtype=dt)))
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        t = b.op("Erf", b.op("Div", x, b.const(math.sqrt(2.0), dtype=dt)))
    return b.op("Mul", half, b.op("Add", t, b.const(1.0, dtype=dt)))


@converts("Prelu")
def _prelu(b, args, kw, out):
    x, a = args
    slope = _v(b, a)
    if x.ndim > 2 and a.numel() > 1:  # one weight per channel (dim 1)
        slope = b.op("Reshape", slope, b.ints([a.numel()] + [1] * (x.ndim - 2)))
    return b.op("PRelu", _v(b, x), slope)


# -- linear algebra ---------------------------------------------------------------------------
@converts("Linear")
def _linear(b, args, kw, out):
    x, w = args[0], args[1]
    bias = args[2] if len(args) > 2 else kw.get("b")
    if x.ndim == 2:
        ins = [_v(b, x), _v(b, w)] + ([_v(b, bias)] if bias is not None else [])
        return b.op("Gemm", *ins, transB=1)
    y = b.op("MatMul", _v(b, x), b.op("Transpose", _v(b, w), perm=[1, 0]))
    return b.op("Add", y, _v(b, bias)) if bias is not None else y


@converts("Addmm")
def _addmm(b, args, kw, out):
    c, x, y, beta, alpha = args
    return b.op("Gemm", _v(b, x), _v(b, y), _v(b, c, out), alpha=float(alpha), beta=float(beta))


@converts("MatMul")
def _matmul(b, args, kw, out):
    return b.op("MatMul", _v(b, args[0]), _v(b, args[1]))


# -- shape ------------------------------------------------------------------------------------
@converts("Reshape")
def _reshape(b, args, kw, out):
    a, shape = args
    src, dst = list(a.shape), list(out.shape)
    if len(dst) > len(src) and [d for d in dst if d != 1] == [d for d in src if d != 1]:
        ins = _inserted_ones(src, dst)
        if ins is not None:  # unsqueeze: keeps every other dim symbolic
            return b.op("Unsqueeze", _v(b, a), b.ints(ins))
    if len(dst) < len(src) and [d for d in dst if d != 1] == [d for d in src if d != 1]:
        rem = _inserted_ones(dst, src)
        if rem is not None:
            return b.op("Squeeze", _v(b, a), b.ints(rem))
    return b.op("Reshape", _v(b, a), b.ints(_reshape_target(b, a, src, dst)))


def _reshape_target(b, a, src: list, dst: list) -> list:
    """The Reshape target: leading dims copied from the input are written as 0 ("same as
    input"), so a dynamic batch dimension survives `x.view(x.size(0), -1)`; then a target dim
    that is the product of whole input dims, one of them the traced size of a dynamic axis
    (`out.view(-1, ntoken)` on (seq, batch, ntoken)), becomes -1 (once)."""
    target = list(dst)
    i = 0
    while (
        i < min(len(src), len(dst))
        and src[i] == dst[i]
        and (b.is_dynamic(a, i) or i == 0 or src[i] in b.dyn_sizes)
    ):
        target[i] = 0
        i += 1
    # align the rest by running products: dst[j] covering src[p:q] exactly
    p, j, free = i, i, None
    while j < len(dst) and p <= len(src):
        q, prod = p, 1
        while q < len(src) and prod < dst[j]:
            prod *= src[q]
            q += 1
        if prod != dst[j] or q == p:
            break
        if any(src[r] in b.dyn_sizes for r in range(p, q)) and free is None and dst[j] > 1:
            free = j
        p, j = q, j + 1
    if free is not None:
        target[free] = -1
    return target


def _inserted_ones(short: list, long: list) -> list | None:
    """Positions in `long` of 1s that, removed, leave `short` (None when that is not so)."""
    pos, j = [], 0
    for i, d in enumerate(long):
        if j < len(short) and d == short[j]:
            j += 1
        elif d == 1:
            pos.append(i)
        else:
            return None
    return pos if j == len(short) else None


@converts("Permute")
def _permute(b, args, kw, out):
    return b.op("Transpose", _v(b, args[0]), perm=[int(p) for p in args[1]])


@converts("Expand")
def _expand(b, args, kw, out):
    # a target dim of 1 keeps the input's (ONNX broadcasting), so only the dims that grow are fixed
    a = args[0]
    lead = out.ndim - a.ndim
    shape = [s if i < lead or a.shape[i - lead] != s else 1 for i, s in enumerate(out.shape)]
    return b.op("Expand", _v(b, a), b.ints(shape))


@converts("Cat")
def _cat(b, args, kw, out):
    dim = kw["dim"] % out.ndim
    return b.op("Concat", *[_v(b, a) for a in args], axis=dim)


@converts("GetItem")
def _getitem(b, args, kw, out):
    a, key = args
    key = key if isinstance(key, tuple) else (key,)
    if any(k is Ellipsis for k in key):
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (a.ndim - len(key) + 1 + sum(k is None for k in key)) + key[i + 1 :]
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    dim = 0
    out_dim = 0
    for k in key:
        if k is None:
            unsqueeze.append(out_dim)
            out_dim += 1
            continue
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer, slice)):
            raise UnsupportedOperatorError(
                f"Exporting the operator 'GetItem' with an index of type {type(k).__name__} (advanced "
                f"indexing) to ONNX opset version {b.opset} is not supported."
            )
        if isinstance(k, slice):
            st = 1 if k.step is None else int(k.step)
            if k.start is not None or k.stop is not None or st != 1:
                starts.append(0 if k.start is None else int(k.start))
                ends.append(_INT64_MAX if k.stop is None else int(k.stop))
                axes.append(dim)
                steps.append(st)
            out_dim += 1
        else:
            i = int(k)
            starts.append(i)
            ends.append(i + 1 if i != -1 else _INT64_MAX)
            axes.append(dim)
            steps.append(1)
            squeeze.append(dim)
        dim += 1
    x = _v(b, a)
    if axes:
        ends_name = b.ints(ends)
        if not b.traced(a):  # `pe[: x.size(0)]` on a buffer: the stop follows x's dynamic axis
            dyn = [b.dyn_dim(e) if st == 1 and s0 == 0 and e < a.shape[ax] else None
                   for s0, e, ax, st in zip(starts, ends, axes, steps)]  # fmt: skip
            if any(d is not None for d in dyn):
                parts = [b.ints([e]) if d is None else b.op("Reshape", b.op("Gather", b.op("Shape", d[0]), b.ints([d[1]])), b.ints([1]))
                         for e, d in zip(ends, dyn)]  # fmt: skip
                ends_name = parts[0] if len(parts) == 1 else b.op("Concat", *parts, axis=0)
        x = b.op("Slice", x, b.ints(starts), ends_name, b.ints(axes), b.ints(steps))
    if squeeze:
        x = b.op("Squeeze", x, b.ints(squeeze))
    if unsqueeze:
        x = b.op("Unsqueeze", x, b.ints(unsqueeze))
    return x if x != _v(b, a) else b.op("Identity", x)


# -- reductions -------------------------------------------------------------------------------
def _reduce(b, op: str, a, axes, keepdims) -> str:
    x = _v(b, a)
    axes = list(range(a.ndim)) if axes is None else [int(i) % max(a.ndim, 1) for i in np.atleast_1d(axes)]
    if op == "ReduceSum" or b.opset >= 18:
        return b.op(op, x, b.ints(axes), keepdims=int(bool(keepdims)))
    return b.op(op, x, axes=axes, keepdims=int(bool(keepdims)))


@converts("Sum")
def _sum(b, args, kw, out):
    keep = args[2] if len(args) > 2 else kw.get("keepdims", False)
    y = _reduce(b, "ReduceSum", args[0], args[1], keep)
    return y if out.dtype == args[0].dtype else b.op("Cast", y, to=elem_type(out.dtype))


@converts("Mean")
def _mean(b, args, kw, out):
    keep = args[2] if len(args) > 2 else kw.get("keepdims", False)
    return _reduce(b, "ReduceMean", args[0], args[1], keep)


@converts("Amax")
def _amax(b, args, kw, out):
    return _reduce(b, "ReduceMax", args[0], args[1], args[2])


@converts("Softmax")
def _softmax(b, args, kw, out):
    return b.op("Softmax", _v(b, args[0]), axis=int(args[1]))


@converts("LogSoftmax")
def _log_softmax(b, args, kw, out):
    return b.op("LogSoftmax", _v(b, args[0]), axis=int(args[1]))


# -- convolution, pooling, normalisation ------------------------------------------------------
@converts("Convolution")
def _conv(b, args, kw, out):
    x, w, bias, stride, pads, dil, groups = args
    ins = [_v(b, x), _v(b, w)] + ([_v(b, bias)] if bias is not None else [])
    lo = [int(p[0]) for p in pads]
    hi = [int(p[1]) for p in pads]
    return b.op(
        "Conv", *ins, strides=[int(s) for s in stride], pads=lo + hi, dilations=[int(d) for d in dil],
        group=int(groups), kernel_shape=list(w.shape[2:]),
    )  # fmt: skip


@converts("ConstantPad")
def _pad(b, args, kw, out):
    x, pads, value = args
    pads = list(pads)
    n = x.ndim
    begin, end = [0] * n, [0] * n
    for i in range(len(pads) // 2):  # torch's pad lists (left, right) from the last dim back
        begin[n - 1 - i], end[n - 1 - i] = int(pads[2 * i]), int(pads[2 * i + 1])
    return b.op("Pad", _v(b, x), b.ints(begin + end), b.const(value, dtype=out.dtype.np))


@converts("IndexPad")
def _index_pad(b, args, kw, out):
    # reflect/replicate/circular padding and nearest resizing: one Gather per axis
    x, maps = args
    name = _v(b, x)
    for ax, idx in maps:
        name = b.op("Gather", name, b.const(ember._backend.to_numpy(idx).astype(np.int64)), axis=int(ax))
    return name


@converts("MaxPool")
def _max_pool(b, args, kw, out):
    x, k, s, p, d, extra = args[:6]
    return b.op(
        "MaxPool", _v(b, x), kernel_shape=list(k), strides=list(s), dilations=list(d),
        pads=list(p) + [pi + e for pi, e in zip(p, extra)],
    )  # fmt: skip


@converts("AvgPool")
def _avg_pool(b, args, kw, out):
    x, k, s, p, extra, div = args
    y = b.op(
        "AveragePool", _v(b, x), kernel_shape=list(k), strides=list(s), count_include_pad=1,
        pads=list(p) + [pi + e for pi, e in zip(p, extra)],
    )  # fmt: skip
    ratio = (k[0] * k[1]) / ember._backend.to_numpy(div)  # ONNX divides by k*k; ember by div
    if np.allclose(ratio, 1.0):
        return y
    return b.op("Mul", y, b.const(ratio.astype(out.dtype.np)))


@converts("AdaptiveAvgPool")
def _adaptive_avg_pool(b, args, kw, out):
    x = args[0]
    (h, w), (oh, ow) = x.shape[-2:], out.shape[-2:]
    if (oh, ow) == (1, 1):
        return b.op("GlobalAveragePool", _v(b, x))
    if h % oh or w % ow:
        raise UnsupportedOperatorError(
            f"Exporting the operator 'AdaptiveAvgPool' from {h}x{w} to {oh}x{ow} (not a whole "
            f"factor) to ONNX opset version {b.opset} is not supported."
        )
    k = [h // oh, w // ow]
    return b.op("AveragePool", _v(b, x), kernel_shape=k, strides=k)


@converts("AdaptiveMaxPool")
def _adaptive_max_pool(b, args, kw, out):
    x = args[0]
    (h, w), (oh, ow) = x.shape[-2:], out.shape[-2:]
    if (oh, ow) == (1, 1):
        return b.op("GlobalMaxPool", _v(b, x))
    if h % oh or w % ow:
        raise UnsupportedOperatorError(
            f"Exporting the operator 'AdaptiveMaxPool' from {h}x{w} to {oh}x{ow} (not a whole "
            f"factor) to ONNX opset version {b.opset} is not supported."
        )
    k = [h // oh, w // ow]
    return b.op("MaxPool", _v(b, x), kernel_shape=k, strides=k)


@converts("BatchNorm")
def _batch_norm(b, args, kw, out):
    x, w, bias, mean, var, eps, training = args[:7]
    if training or mean is None:
        raise UnsupportedOperatorError(
            "Exporting the operator 'BatchNorm' with batch statistics (training mode or "
            f"track_running_stats=False) to ONNX opset version {b.opset} is not supported."
        )
    c = x.shape[1]
    dt = out.dtype.np
    scale = _v(b, w) if w is not None else b.const(np.ones(c, dt))
    shift = _v(b, bias) if bias is not None else b.const(np.zeros(c, dt))
    return b.op("BatchNormalization", _v(b, x), scale, shift, _v(b, mean), _v(b, var), epsilon=float(eps))


@converts("LayerNorm")
def _layer_norm(b, args, kw, out):
    x, w, bias, nd, eps = args
    dt = out.dtype.np
    shape = x.shape[x.ndim - nd :]
    if b.opset >= 17:
        scale = _v(b, w) if w is not None else b.const(np.ones(shape, dt))
        ins = [_v(b, x), scale] + ([_v(b, bias)] if bias is not None else [])
        return b.op("LayerNormalization", *ins, axis=-nd, epsilon=float(eps))
    xs = _v(b, x)
    axes = list(range(x.ndim - nd, x.ndim))
    mean = b.op("ReduceMean", xs, axes=axes, keepdims=1)
    d = b.op("Sub", xs, mean)
    var = b.op("ReduceMean", b.op("Mul", d, d), axes=axes, keepdims=1)
    y = b.op("Div", d, b.op("Sqrt", b.op("Add", var, b.const(eps, dtype=dt))))
    if w is not None:
        y = b.op("Mul", y, _v(b, w))
    if bias is not None:
        y = b.op("Add", y, _v(b, bias))
    return y


@converts("GroupNorm")
def _group_norm(b, args, kw, out):
    # y = (x - mean_g) / sqrt(var_g + eps) * w_c + b_c, composed (GroupNormalization changed meaning in opset 21)
    x, w, bias, groups, eps = args
    dt = out.dtype.np
    xs = _v(b, x)
    g = b.op("Reshape", xs, b.ints([0, int(groups), -1]))
    mean = _reduce_name(b, "ReduceMean", g, [2])
    d = b.op("Sub", g, mean)
    var = _reduce_name(b, "ReduceMean", b.op("Mul", d, d), [2])
    y = b.op("Div", d, b.op("Sqrt", b.op("Add", var, b.const(eps, dtype=dt))))
    y = b.op("Reshape", y, b.op("Shape", xs))
    cshape = b.ints([x.shape[1]] + [1] * (x.ndim - 2))
    if w is not None:
        y = b.op("Mul", y, b.op("Reshape", _v(b, w), cshape))
    if bias is not None:
        y = b.op("Add", y, b.op("Reshape", _v(b, bias), cshape))
    return y


def _reduce_name(b, op: str, x: str, axes: list) -> str:
    if b.opset >= 18:
        return b.op(op, x, b.ints(axes), keepdims=1)
    return b.op(op, x, axes=axes, keepdims=1)


@converts("ScaledDotProductAttention")
def _sdpa(b, args, kw, out):
    # softmax(q k^T * scale + bias) v; is_causal's mask (a raw array) is rebuilt from the run-time
    # lengths, so a dynamic sequence axis stays dynamic
    from ember.onnx._modules import causal_bias, is_causal_float, zero_dead_rows

    q, k, v, bias, scale, keep = args
    if keep is not None:
        raise UnsupportedOperatorError(
            "Exporting the operator 'ScaledDotProductAttention' with dropout_p > 0 to ONNX opset version "
            f"{b.opset} is not supported (exported graphs are for inference)"
        )
    dt = out.dtype.np
    qn, kn = _v(b, q), _v(b, k)
    perm = list(range(k.ndim - 2)) + [k.ndim - 1, k.ndim - 2]
    s = b.op("MatMul", qn, b.op("Transpose", kn, perm=perm))
    s = b.op("Mul", s, b.const(scale, dtype=dt))
    if bias is not None:
        bn = None
        if isinstance(bias, np.ndarray):  # a bool mask made additive, or is_causal's mask
            bn = b.by_array.get(id(bias)) or b.mask_of(bias)
            if bn is None and is_causal_float(bias):
                bn = causal_bias(b, qn, q.ndim - 2, kn, k.ndim - 2, dt)
        s = b.op("Add", s, bn or _v(b, bias))
    p = b.op("Softmax", s, axis=-1)
    if bias is not None:
        p = zero_dead_rows(b, p, dt)
    return b.op("MatMul", p, _v(b, v))


@converts("Tri")
def _tri(b, args, kw, out):
    a, k, upper = args
    if b.opset < 14:
        raise UnsupportedOperatorError(
            f"Exporting the operator 'Tri' (triu/tril of a traced tensor) to ONNX opset version {b.opset} is not "
            "supported (Trilu needs opset 14)"
        )
    return b.op("Trilu", _v(b, a), b.const(np.int64(k)), upper=int(bool(upper)))


@converts("Dropout")
def _dropout(b, args, kw, out):
    return b.op("Identity", _v(b, args[0]))  # exported graphs are for inference (eval mode)


@converts("EmbeddingLookup")
def _embedding(b, args, kw, out):
    w, idx = args[0], args[1]
    return b.op("Gather", _v(b, w), _v(b, idx), axis=0)


__all__ = ["CONVERTERS", "TensorProto", "convert"]
