"""add_graph without a JIT: record one forward pass through `graph.node.tracer` and
emit the GraphDef + RunMetadata that torch's add_graph emits (scopes like `LeNet/Conv2d[conv1]`,
op types like `aten::_convolution`, `_output_shapes` on every node)."""

from __future__ import annotations

import inspect
import re

from tensorboard.compat.proto.attr_value_pb2 import AttrValue
from tensorboard.compat.proto.config_pb2 import RunMetadata
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef
from tensorboard.compat.proto.step_stats_pb2 import DeviceStepStats, StepStats
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.compat.proto.versions_pb2 import VersionDef

from ember._tensor import Tensor
from ember.autograd.grad_mode import no_grad
from ember.graph import node as function

# primitive class name -> the aten op torch's tracer shows for the same call
_ATEN = {
    "add": "add", "sub": "sub", "mul": "mul", "div": "div", "pow": "pow", "neg": "neg",
    "exp": "exp", "log": "log", "sqrt": "sqrt", "tanh": "tanh", "sigmoid": "sigmoid",
    "relu": "relu", "abs": "abs", "clone": "clone", "tocopy": "to", "sum": "sum", "mean": "mean",
    "reshape": "reshape", "view": "view", "permute": "permute", "expand": "expand",
    "getitem": "index", "setitem": "index_put_", "matmul": "matmul", "addmm": "linear",
    "linear": "linear", "softmax": "softmax", "logsoftmax": "log_softmax", "cat": "cat",
    "stack": "stack", "transpose": "transpose", "flatten": "flatten", "dropout": "dropout",
    "batchnorm": "batch_norm", "crossentropy": "cross_entropy_loss", "mseloss": "mse_loss",
}  # fmt: skip


def aten_kind(fn_cls) -> str:
    """'aten::<op>' for a Function subclass, by name (conv/pool/linear families by substring)."""
    name = fn_cls.__name__
    key = name.lower().replace("_", "").removesuffix("function").removesuffix("backward")
    if key in _ATEN:
        return "aten::" + _ATEN[key]
    for part, op in (("conv", "_convolution"), ("maxpool", "max_pool2d"), ("avgpool", "avg_pool2d"),
                     ("linear", "linear"), ("batchnorm", "batch_norm"), ("softmax", "softmax")):  # fmt: skip
        if part in key:
            return "aten::" + op
    return "aten::" + re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _shape_attr(shape) -> AttrValue:
    dims = [TensorShapeProto.Dim(size=int(d)) for d in shape]
    return AttrValue(list=AttrValue.ListValue(shape=[TensorShapeProto(dim=dims)]))


def _tensors(x):
    """Tensors in x (a Tensor, or nested list/tuple/dict of them), in order."""
    if isinstance(x, Tensor):
        yield x
    elif isinstance(x, (list, tuple)):
        for a in x:
            yield from _tensors(a)
    elif isinstance(x, dict):
        for a in x.values():
            yield from _tensors(a)


class GraphRecorder:
    """The object set as `tracer[0]` during add_graph's forward pass."""

    def __init__(self, model) -> None:
        self.root = type(model).__name__
        self.scopes: dict[int, str] = {}  # id(module) -> 'LeNet/Conv2d[conv1]'
        self.params: dict[int, str] = {}  # id(parameter) -> 'LeNet/Conv2d[conv1]/weight'
        by_path = {"": self.root}
        named = model.named_modules() if hasattr(model, "named_modules") else [("", model)]
        for path, m in named:
            if path:
                parent, _, attr = path.rpartition(".")
                by_path[path] = f"{by_path.get(parent, self.root)}/{type(m).__name__}[{attr}]"
            self.scopes.setdefault(id(m), by_path[path])
        if hasattr(model, "named_parameters"):
            for path, p in model.named_parameters():
                owner, _, attr = path.rpartition(".")
                self.params[id(p)] = f"{by_path.get(owner, self.root)}/{attr}"
        self.stack: list[str] = []
        self.names: dict[int, str] = {}  # id(tensor) -> node name of its producer
        self.keep: list = []  # keeps traced tensors alive so ids stay unique
        self.nodes: list[NodeDef] = []
        self.count = 0

    # -- tracer protocol ---------------------------------------------------------------------
    def push_scope(self, module) -> None:
        scope = self.scopes.get(id(module))
        if scope is None:
            parent = self.stack[-1] if self.stack else self.root
            scope = f"{parent}/{type(module).__name__}"
        self.stack.append(scope)

    def pop_scope(self, module) -> None:
        if self.stack:
            self.stack.pop()

    def record(self, fn_cls, args, out, kw=None) -> None:
        scope = self.stack[-1] if self.stack else self.root
        kind = aten_kind(fn_cls)
        inputs = [self._source(t, scope) for t in _tensors(args)]
        consts = [a for a in args if not list(_tensors(a))]
        self.count += 1
        name = f"{scope}/{kind.split('::')[1]}.{self.count}"
        attrs = {"_output_shapes": _shape_attr(out.shape)}
        attrs["attr"] = AttrValue(s=str({"args": consts}).replace("'", " ").encode())
        self.nodes.append(NodeDef(name=name, op=kind, input=inputs, attr=attrs))
        self.names[id(out)] = name
        self.keep.append(out)

    # -- helpers -------------------------------------------------------------------------------
    def _source(self, t, scope: str) -> str:
        key = id(t)
        if key in self.names:
            return self.names[key]
        if key in self.params:
            name, op = self.params[key], "prim::GetAttr"
        else:
            self.count += 1
            name, op = f"{scope}/constant.{self.count}", "prim::Constant"
        self.nodes.append(NodeDef(name=name, op=op, attr={"_output_shapes": _shape_attr(t.shape)}))
        self.names[key] = name
        self.keep.append(t)
        return name

    def add_io(self, tensors, names: list[str], outputs) -> None:
        for t, n in zip(tensors, names):
            name = f"input/{n}"
            self.nodes.insert(
                0, NodeDef(name=name, op="IO Node", attr={"_output_shapes": _shape_attr(t.shape)})
            )
            self.names[id(t)] = name
            self.keep.append(t)
        for i, t in enumerate(_tensors(outputs)):
            src = self.names.get(id(t))
            node = NodeDef(name=f"output/output.{i + 1}", op="IO Node", input=[src] if src else [])
            node.attr["_output_shapes"].CopyFrom(_shape_attr(t.shape))
            self.nodes.append(node)


def _input_names(model, n: int) -> list[str]:
    try:
        params = [
            p.name
            for p in inspect.signature(model.forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError, AttributeError):
        params = []
    return [params[i] if i < len(params) else f"input.{i}" for i in range(n)]


def graph(model, input_to_model, verbose: bool = False) -> tuple[GraphDef, RunMetadata]:
    """Run `model` once (eval mode, no_grad) with the tracer set; return (GraphDef, RunMetadata)."""
    args = input_to_model if isinstance(input_to_model, (tuple, list)) else (input_to_model,)
    rec = GraphRecorder(model)
    inputs = list(_tensors(args))
    rec.add_io(inputs, _input_names(model, len(inputs)), ())
    was_training = getattr(model, "training", None)
    if was_training is not None and hasattr(model, "train"):
        model.train(False)
    prev = function.tracer[0]
    function.tracer[0] = rec
    try:
        with no_grad():
            out = model(*args)
    finally:
        function.tracer[0] = prev
        if was_training is not None and hasattr(model, "train"):
            model.train(was_training)
    rec.add_io([], [], out)
    if verbose:
        for n in rec.nodes:
            print(n.name, n.op, list(n.input))
    gd = GraphDef(node=rec.nodes, versions=VersionDef(producer=22))
    meta = RunMetadata(step_stats=StepStats(dev_stats=[DeviceStepStats(device="/device:CPU:0")]))
    return gd, meta
