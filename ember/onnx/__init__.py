"""torch.onnx.export for ember models, written with the `onnx` package (the `onnx` extra).

The model runs once in eval mode under no_grad with a recorder set as
`ember.graph.node.tracer[0]`: every primitive applied is converted to ONNX nodes by
_symbolic.py (docs/onnx.md lists the ops), except inside the modules _modules.py converts as a
whole (recurrent layers, MultiheadAttention, InstanceNorm), whose hooks write their nodes.
Parameters and other tensors the trace did not compute become initializers, as do ops on
constants only (constant folding); an op without a conversion raises UnsupportedOperatorError
naming it."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping, Sequence
from typing import Any

import ember
from ember.graph import node as _function

producer_name = "ember"
producer_version = ember.__version__
_in_export = [False]


class TrainingMode(enum.IntEnum):
    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


class OnnxExporterError(RuntimeError):
    """Export failed."""


class UnsupportedOperatorError(OnnxExporterError):
    """An ember primitive has no ONNX conversion (torch.onnx's UnsupportedOperatorError)."""


def is_in_onnx_export() -> bool:
    return _in_export[0]


class ONNXProgram:
    """What export returns: `model_proto` (an onnx.ModelProto) and `save(path)`."""

    def __init__(self, model_proto) -> None:
        self.model_proto = model_proto

    def save(self, destination) -> None:
        import onnx

        onnx.save(self.model_proto, destination)

    def __repr__(self) -> str:
        return f"ONNXProgram(opset={self.model_proto.opset_import[0].version})"


def _tensors(x):
    if isinstance(x, ember.Tensor):
        yield x
    elif isinstance(x, (list, tuple)):
        for a in x:
            yield from _tensors(a)
    elif isinstance(x, dict):
        for a in x.values():
            yield from _tensors(a)


def _dynamic_dims(dynamic_axes, name: str) -> dict[int, str]:
    spec = (dynamic_axes or {}).get(name)
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return {int(k): str(v) for k, v in spec.items()}
    return {int(i): f"{name}_dynamic_axes_{j + 1}" for j, i in enumerate(spec)}


def _hook_modules(model, rec, _modules) -> list:
    """Hooks converting each module that _modules.py converts as a whole: the pre-hook mutes the
    recorder, the forward hook unmutes it and writes the module's nodes."""
    handles = []
    for m in model.modules():
        conv = _modules.converter_for(m)
        if conv is None:
            continue

        def pre(mod, args, kwargs):
            rec.muted += 1

        def post(mod, args, kwargs, out, _conv=conv):
            rec.muted -= 1
            if rec.muted == 0:
                _conv(rec.b, mod, _modules.bound_args(mod, args, kwargs), out)

        handles.append(m.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(m.register_forward_hook(post, with_kwargs=True, prepend=True))
    return handles


def export(
    model,
    args: Any = (),
    f: str | os.PathLike | Any = None,
    *,
    kwargs: dict | None = None,
    verbose: bool | None = None,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    opset_version: int | None = None,
    dynamic_axes: Mapping | None = None,
    export_params: bool = True,
    training: TrainingMode = TrainingMode.EVAL,
    do_constant_folding: bool = True,
    dynamo: bool = True,
    external_data: bool = True,
    **unsupported: Any,
) -> ONNXProgram:
    """Trace `model(*args, **kwargs)` and write the ONNX model to `f` (a path or file object)
    when given; returns an ONNXProgram either way (torch 2.x's dynamo exporter does too)."""
    # lazy: `import ember.onnx` (as `import torch.onnx` in scripts) must not need the onnx package
    try:
        import onnx
        from onnx import helper
    except ImportError as e:
        raise ImportError(
            "ember.onnx.export needs the onnx package: pip install onnx (or the 'onnx' extra of ember)"
        ) from e

    from ember.onnx import _graph, _modules, _symbolic  # lazy: they import the optional `onnx` package

    if unsupported:
        raise TypeError(f"ember.onnx.export: options not supported: {sorted(unsupported)}")
    if not export_params:
        raise ValueError("ember.onnx.export: export_params=False is not supported")
    if training == TrainingMode.TRAINING:
        raise ValueError("ember.onnx.export: exports inference graphs only (training=TrainingMode.EVAL)")
    opset = 18 if opset_version is None else int(opset_version)
    if not 13 <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(
            f"Unsupported ONNX opset version: {opset}; ember exports opsets 13 to "
            f"{onnx.defs.onnx_opset_version()}"
        )
    args = args if isinstance(args, tuple) else (args,)
    inputs = list(_tensors(args))
    input_names = list(input_names or [])
    input_names += [f"input_{i}" for i in range(len(input_names), len(inputs))]
    b = _graph.Builder(opset)
    if hasattr(model, "named_parameters"):
        for path, p in model.named_parameters():
            b.param_names[id(p)] = path
        for path, t in model.named_buffers():
            b.param_names[id(t)] = path
    graph_inputs = []
    for t, name in zip(inputs, input_names):
        dims = _dynamic_dims(dynamic_axes, name)
        b.bind(t, name)
        b.dynamic[id(t)] = dims
        b.dyn_sizes.update(t.shape[i] for i in dims if t.shape[i] > 1)
        for i, sym in dims.items():
            if t.shape[i] > 1:
                b.dyn_axes.setdefault(t.shape[i], []).append((name, i, sym))
        graph_inputs.append(_graph.value_info(name, t, dims))
    was_training = getattr(model, "training", None)
    if was_training and training == TrainingMode.EVAL:
        model.train(False)
    rec = _graph.Recorder(b, _symbolic.convert, _symbolic.foldable)
    rec.fold = bool(do_constant_folding)
    handles = _hook_modules(model, rec, _modules) if hasattr(model, "modules") else []
    prev, _function.tracer[0] = _function.tracer[0], rec
    _in_export[0] = True
    try:
        with ember.no_grad():
            out = model(*args, **(kwargs or {}))
    finally:
        _function.tracer[0] = prev
        for h in handles:
            h.remove()
        _in_export[0] = False
        if was_training and training == TrainingMode.EVAL:
            model.train(True)
    outputs = list(_tensors(out))
    output_names = list(output_names or [])
    output_names += [f"output_{i}" for i in range(len(output_names), len(outputs))]
    graph_outputs = []
    for t, name in zip(outputs, output_names):
        src = b.value(t)
        b.nodes.append(helper.make_node("Identity", [src], [name], name=f"output_{name}"))
        graph_outputs.append(_graph.value_info(name, t, _dynamic_dims(dynamic_axes, name)))
    b.prune(output_names[: len(outputs)])
    graph = helper.make_graph(
        b.nodes, type(model).__name__, graph_inputs, graph_outputs, initializer=b.initializers
    )
    proto = helper.make_model(
        graph, producer_name=producer_name, producer_version=producer_version,
        opset_imports=[helper.make_opsetid("", opset)],
    )  # fmt: skip
    proto.ir_version = min(proto.ir_version, 10)  # onnxruntime 1.2x reads IR <= 10
    onnx.checker.check_model(proto)
    if verbose:
        print(helper.printable_graph(graph))
    program = ONNXProgram(proto)
    if f is not None:
        if hasattr(f, "write"):
            f.write(proto.SerializeToString())
        else:
            program.save(os.fspath(f))
    return program


__all__ = [
    "ONNXProgram",
    "OnnxExporterError",
    "UnsupportedOperatorError",
    "TrainingMode",
    "export",
    "is_in_onnx_export",
]
