"""The recorder set as `autograd.function.tracer[0]` during export, and the graph builder the
op converters (_symbolic.py) write ONNX nodes into."""

from __future__ import annotations

import warnings

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import ember
from ember.onnx import OnnxExporterError, UnsupportedOperatorError


class Builder:
    """Nodes, initializers and names of the graph under construction."""

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self.names: dict[int, str] = {}  # id(tensor) -> value name
        self.keep: list = []  # tensors whose ids are in `names` stay alive
        self.dynamic: dict[int, dict[int, str]] = {}  # id(input tensor) -> {dim: symbolic name}
        self.param_names: dict[int, str] = {}
        self.by_array: dict[int, str] = {}  # id(tensor._data) -> name, for raw-array arguments
        self.dyn_sizes: set[int] = set()  # traced sizes of the inputs' dynamic axes
        self.dyn_axes: dict[int, list] = {}  # traced size -> [(input name, axis, symbol)]
        self.bool_values: list = []  # (traced bool tensor, name), for mask_of
        self.const_names: set[str] = set()  # initializers' names
        self.versions: dict[int, tuple] = {}  # id(tensor) -> (version when named, len(bound), counter)
        self.bound: list = []  # (tensor, name) in the order traced ops made them
        self._count = 0

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"/{hint}_{self._count}"

    def node(self, op: str, inputs: list[str], n_out: int = 1, **attrs) -> list[str]:
        outs = [self.fresh(op) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=outs[0].lstrip("/"), **attrs))
        return outs

    def op(self, op: str, *inputs: str, **attrs) -> str:
        return self.node(op, list(inputs), 1, **attrs)[0]

    def const(self, value, dtype=None, hint: str = "const") -> str:
        arr = np.asarray(value, dtype=dtype)
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(arr, name))
        self.const_names.add(name)
        return name

    def ints(self, values) -> str:
        return self.const(np.asarray(list(values), dtype=np.int64), hint="ints")

    def value(self, x, like=None) -> str:
        """The graph name for a Tensor argument (a constant when no traced op made it), or a
        constant for a Python number (in `like`'s dtype, as the op's promotion gives)."""
        if isinstance(x, ember.Tensor):
            key = id(x)
            seen = self.versions.get(key)
            if seen is not None and x._version_counter[0] != seen[0]:
                if x._version_counter is not seen[2]:  # made a view after the record: a new counter
                    self.versions[key] = (x._version_counter[0], seen[1], x._version_counter)
                else:
                    self._written(x, seen[1])
            if key not in self.names:
                arr = ember._backend.to_numpy(x.detach()._data)
                derived = self.mask_of(arr)
                if derived is not None:
                    self.names[key] = derived
                    self.versions[key] = (
                        x._version_counter[0],
                        -1,
                        x._version_counter,
                    )  # written in place: derived again
                    self.keep.append(x)
                    return derived
                if key not in self.param_names and any(d in self.dyn_sizes for d in arr.shape):
                    derived = self.dyn_const(arr)
                    if derived is not None:
                        self.names[key] = derived
                        self.versions[key] = (x._version_counter[0], -1, x._version_counter)
                        self.keep.append(x)
                        return derived
                    warnings.warn(
                        f"ember.onnx.export: a tensor of shape {tuple(arr.shape)} made outside the trace "
                        "(NumPy or a creation op in forward, not one rebuilt from a dynamic length) is exported as a "
                        "constant; a dynamic axis traced at one of these sizes stays fixed where it meets it",
                        stacklevel=2,
                    )
                name = self.param_names.get(key) or self.fresh("const")
                if name in self.const_names:  # a buffer written in place since: its new value
                    name = self.fresh(name.lstrip("/").replace(".", "_"))
                self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
                self.const_names.add(name)
                self.names[key] = name
                self.versions[key] = (x._version_counter[0], len(self.bound), x._version_counter)
                self.keep.append(x)
            return self.names[key]
        if isinstance(x, np.ndarray):  # a primitive given a traced tensor's array (embedding's indices)
            return self.by_array.get(id(x)) or self.mask_of(x) or self.dyn_const(x) or self.const(x)
        dt = like.dtype.np if isinstance(like, ember.Tensor) else None
        return self.const(x, dtype=dt)

    def bind(self, t, name: str) -> None:
        self.names[id(t)] = name
        self.by_array[id(t._data)] = name
        self.versions[id(t)] = (t._version_counter[0], len(self.bound) + 1, t._version_counter)
        self.bound.append((t, name))
        self.keep.append(t)
        if t.dtype == ember.bool:
            self.bool_values.append((t, name))

    def mask_of(self, arr: np.ndarray) -> str | None:
        """Masks turned from bool to additive outside the trace (attention's _canonical_mask,
        scaled_dot_product_attention's bool attn_mask): a float array equal to where(m, -inf, 0)
        or where(m, 0, -inf) for a traced bool `m` becomes that Where node."""
        if arr.dtype.kind != "f" or not arr.size or not np.isneginf(arr).any():
            return None
        for t, name in self.bool_values:
            if tuple(t.shape) != arr.shape:
                continue
            m = ember._backend.to_numpy(t._data)
            for masked in (m, ~m):
                if np.array_equal(arr, np.where(masked, -np.inf, 0.0).astype(arr.dtype)):
                    neg, zero = self.const(-np.inf, dtype=arr.dtype), self.const(0.0, dtype=arr.dtype)
                    src = name if masked is m else self.op("Not", name)
                    return self.op("Where", src, neg, zero)
        return None

    def _written(self, x, since: int) -> None:
        """`x` was written in place after it was named. An in-place op that went through a
        primitive (`masked_fill_`, `clamp_`, `add_` with autograd on: the primitive's result is
        traced, then copied into x's storage) makes x that result: the latest one traced since
        with x's shape, dtype and values. A constant becomes a new constant. Anything else (a
        write straight into the storage, as `+=` under no_grad does) would leave the graph with
        x's old value, so it is an error."""
        key = id(x)
        name = self.names.get(key)
        if name is None or name in self.const_names or since < 0:
            self.names.pop(key, None)
            self.versions.pop(key, None)
            return
        arr = ember._backend.to_numpy(x._data)
        for t, n in reversed(self.bound[since:]):
            if t is not x and t.shape == x.shape and t.dtype == x.dtype:
                if np.array_equal(ember._backend.to_numpy(t._data), arr, equal_nan=arr.dtype.kind in "fc"):
                    self.names[key] = n
                    self.by_array[id(x._data)] = n
                    self.versions[key] = (x._version_counter[0], len(self.bound), x._version_counter)
                    return
        raise OnnxExporterError(
            f"ember.onnx.export: a traced tensor of shape {tuple(x.shape)} was written in place by an op the "
            "tracer does not see (an in-place operator such as `+=`/`add_` under no_grad writes the storage "
            "directly), so the graph would miss the write; use the out-of-place op (`x = x + y`)"
        )

    def array_value(self, arr: np.ndarray) -> str:
        """The name for a raw array a primitive got as a broadcast view of a tensor's array
        (masked_fill's `broadcast_to(mask, shape)`): a traced bool tensor (or else the array
        owning the memory) whose array broadcast to `arr`'s shape is `arr` exactly (same memory,
        strides); ONNX broadcasting does the rest. Any other array is a constant."""
        owner = arr if arr.base is None else arr.base

        def views(c) -> bool:
            try:
                v = np.broadcast_to(c, arr.shape)
            except ValueError:
                return False
            return (
                v.strides == arr.strides and v.__array_interface__["data"] == arr.__array_interface__["data"]
            )

        for t, name in reversed(self.bool_values):
            c = t._data
            if isinstance(c, np.ndarray) and (c is owner or c.base is owner) and views(c):
                return name
        if isinstance(owner, np.ndarray) and owner is not arr and views(owner):
            return self.value(owner)
        return self.value(arr)

    # -- constants whose shape follows a dynamic axis ---------------------------------------------
    def dyn_const(self, arr: np.ndarray) -> str | None:
        """A constant made in forward from a dynamic axis's traced length (`arange(L)`, `ones(L, L)`,
        `triu(ones(L, L), 1)`, generate_square_subsequent_mask(L), `zeros(n, hidden)`) rebuilt from
        the run-time length (Shape, Range, Expand), so the graph follows that axis; None for any
        other array, or when the length is not one dynamic axis's alone."""
        dims = [self.dyn_dim(s) if s in self.dyn_sizes else None for s in arr.shape]
        if (
            arr.size < 2
            or not any(dims)
            or any(s in self.dyn_sizes and d is None for s, d in zip(arr.shape, dims))
        ):
            return None
        if arr.dtype.kind not in "biuf" or (arr.dtype.kind == "f" and np.isnan(arr).any()):
            return None
        flat = arr.reshape(-1)
        long = [i for i, s in enumerate(arr.shape) if s != 1]
        if len(long) == 1 and arr.dtype.kind in "iuf" and np.array_equal(flat, np.arange(flat.size)):
            r = self._range(dims[long[0]])  # arange(L), also as pos[None, :] / pos[:, None]
            if arr.ndim > 1:
                r = self.op("Unsqueeze", r, self.ints([i for i in range(arr.ndim) if i != long[0]]))
            return r if arr.dtype == np.int64 else self.op("Cast", r, to=elem_type_np(arr.dtype))
        if (flat == flat[0]).all():
            parts = [self.ints([s]) if d is None else self.op("Gather", self.op("Shape", d[0]), self.ints([d[1]]), axis=0)
                     for s, d in zip(arr.shape, dims)]  # fmt: skip
            shape = parts[0] if len(parts) == 1 else self.op("Concat", *parts, axis=0)
            return self.op("Expand", self.const(np.asarray(flat[0], dtype=arr.dtype)), shape)
        if arr.ndim == 2 and dims[0] is not None and dims[1] is not None:
            return self._band(arr, dims)
        return None

    def _range(self, d) -> str:
        """Range(0, Shape(input)[axis]) as int64."""
        n = self.op("Gather", self.op("Shape", d[0]), self.const(np.int64(d[1])), axis=0)
        return self.op("Range", self.const(np.int64(0)), n, self.const(np.int64(1)))

    def _band(self, arr: np.ndarray, dims) -> str | None:
        """A 2-valued (n, m) array that is v1 exactly where col - row >= k (triu) or <= k (tril)."""
        vals = np.unique(arr)
        if len(vals) != 2:
            return None
        d = np.arange(arr.shape[1])[None, :] - np.arange(arr.shape[0])[:, None]
        for v1 in vals[::-1]:
            p = arr == v1
            lo, hi = int(d[p].min()), int(d[p].max())
            op = (
                "GreaterOrEqual"
                if np.array_equal(p, d >= lo)
                else "LessOrEqual"
                if np.array_equal(p, d <= hi)
                else None
            )
            if op is None:
                continue
            rows = self.op("Unsqueeze", self._range(dims[0]), self.ints([1]))
            cols = self.op("Unsqueeze", self._range(dims[1]), self.ints([0]))
            k = self.const(np.int64(lo if op == "GreaterOrEqual" else hi))
            cond = self.op(op, self.op("Sub", cols, rows), k)
            if arr.dtype == np.bool_:
                return cond if v1 else self.op("Not", cond)
            v0 = vals[0] if v1 == vals[1] else vals[1]
            return self.op(
                "Where", cond, self.const(np.asarray(v1, arr.dtype)), self.const(np.asarray(v0, arr.dtype))
            )
        return None

    def traced(self, t) -> bool:
        """Whether a traced op (or a graph input) made `t`."""
        return id(t) in self.names and self.names[id(t)] not in self.const_names

    def depends_on_inputs(self, args) -> bool:
        """Whether any tensor (or raw array) among `args` comes from a graph input."""
        for a in args:
            if isinstance(a, ember.Tensor):
                if self.traced(a):
                    return True
            elif isinstance(a, np.ndarray):
                n = self.by_array.get(id(a))
                if n is not None and n not in self.const_names:
                    return True
            elif isinstance(a, (list, tuple)) and self.depends_on_inputs(a):
                return True
        return False

    def prune(self, outputs: list[str]) -> None:
        """Drop nodes and initializers no output depends on (shape checks, mask tests)."""
        need = set(outputs)
        kept = []
        for n in reversed(self.nodes):
            if any(o in need for o in n.output):
                kept.append(n)
                need.update(i for i in n.input if i)
                for attr in n.attribute:  # a Scan body reads outer-scope initializers
                    if attr.HasField("g"):
                        need.update(i for sub in attr.g.node for i in sub.input if i)
        self.nodes = kept[::-1]
        self.initializers = [i for i in self.initializers if i.name in need]

    def dyn_dim(self, size: int):
        """(input name, axis) of the dynamic input axis traced at `size`; None when no axis or
        axes of different names were traced at that size."""
        hits = self.dyn_axes.get(size, [])
        return hits[0][:2] if hits and len({h[2] for h in hits}) == 1 else None

    def is_dynamic(self, t, dim: int) -> bool:
        return dim in self.dynamic.get(id(t), {})


def elem_type(dtype) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype.np))


def elem_type_np(dtype) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def value_info(name: str, t, dims: dict[int, str]):
    shape = [dims.get(i, s) for i, s in enumerate(t.shape)]
    return helper.make_tensor_value_info(name, elem_type(t.dtype), shape)


class Recorder:
    """tracer protocol: scopes from Module.__call__ (unused) and one `record` per primitive.
    While `muted` (inside a module converted as a whole, _modules.py) records are dropped. An op
    none of whose inputs depends on a graph input is folded: its output becomes an initializer
    (torch's do_constant_folding; masks and tables built in forward stay recognisable)."""

    def __init__(self, builder: Builder, convert, foldable=lambda b, fn_cls, args: True) -> None:
        self.b = builder
        self.convert = convert
        self.foldable = foldable
        self.muted = 0
        self.fold = True

    def push_scope(self, module) -> None:
        pass

    def pop_scope(self, module) -> None:
        pass

    def record(self, fn_cls, args, out, kw=None) -> None:
        if self.muted:
            return
        if not isinstance(out, ember.Tensor):
            name = self.convert(self.b, fn_cls, args, kw or {}, out)
        elif self.fold and not self.b.depends_on_inputs(args) and self.foldable(self.b, fn_cls, args):
            return  # left unnamed: b.value makes it an initializer if something uses it
        else:
            name = self.convert(self.b, fn_cls, args, kw or {}, out)
        self.b.bind(out, name)


__all__ = ["Builder", "Recorder", "TensorProto", "UnsupportedOperatorError", "elem_type", "value_info"]
