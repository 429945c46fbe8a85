"""``ember gradients``: the vanishing/exploding-gradient study of the notes (seed 000).

A deep MLP (``--depth`` hidden Linear layers of ``--width`` units) with sigmoid, tanh or relu, initialised
with N(0, 1), Xavier (variance 1/n) or Kaiming (variance 2/n); one backward pass of a cross-entropy
loss on random data gives every layer's weight-gradient norm.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

import ember
from ember import nn
from ember.cli.errors import CLIError
from ember.cli.plotting import plot_grad_norms
from ember.utils.tensorboard import SummaryWriter

ACTIVATIONS = ("sigmoid", "tanh", "relu")
INITS = ("normal", "xavier", "kaiming")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gradients",
        help="vanishing/exploding gradients: per-layer gradient norms of a deep MLP per activation and init",
        description="For each activation (sigmoid, tanh, relu) and initialisation (N(0,1), Xavier, Kaiming), "
        "build a deep MLP, run one backward pass and report every layer's weight-gradient norm, a "
        "verdict (vanishing / healthy / exploding), a plot and TensorBoard histograms.",
    )
    p.add_argument("--depth", type=int, default=10, help="hidden layers (default 10)")
    p.add_argument("--width", type=int, default=100, help="units per hidden layer (default 100)")
    p.add_argument(
        "--batch-size", type=int, default=128, help="random inputs per backward pass (default 128)"
    )
    p.add_argument("--activation", action="append", choices=ACTIVATIONS, help="repeatable; default all")
    p.add_argument("--init", action="append", choices=INITS, help="repeatable; default all")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="DIR", default=os.path.join("runs", "gradients"), help="output directory")
    p.add_argument("--logdir", metavar="DIR", help="TensorBoard log directory (default <out>/tensorboard)")
    p.add_argument("--no-tensorboard", action="store_true", help="do not write TensorBoard logs")
    p.set_defaults(func=run)


def build_mlp(depth: int, width: int, activation: str, init: str, n_classes: int = 10) -> nn.Sequential:
    act = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}[activation]
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), act()]
    layers.append(nn.Linear(width, n_classes))
    net = nn.Sequential(*layers)
    for m in net:
        if isinstance(m, nn.Linear):
            if init == "normal":  # the notes' "random initialisation": mean 0, std 1
                nn.init.normal_(m.weight, 0.0, 1.0)
            elif init == "xavier":  # variance 2 / (fan_in + fan_out) = 1/n for square layers
                nn.init.xavier_normal_(m.weight)
            else:  # variance 2/n, the relu optimum of the notes
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return net


def layer_grad_norms(net: nn.Sequential, x, y) -> list[float]:
    """L2 norm of dLoss/dW for each Linear layer, input side first."""
    net.zero_grad()
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    return [float(m.weight.grad.norm().item()) for m in net if isinstance(m, nn.Linear)]


def verdict(norms: list[float]) -> str:
    """Compare the first hidden layer's gradient with the last hidden layer's: the chain-rule product between them."""
    v = np.asarray(norms, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        return "exploding"
    first, last = v[0], v[-2] if len(v) > 1 else v[0]
    if last == 0.0 or first / last < 1e-2:
        return "vanishing"
    if first / last > 1e2 or v.max() > 1e4:
        return "exploding"
    return "healthy"


def run(args: argparse.Namespace) -> int:
    if args.depth < 1 or args.width < 1 or args.batch_size < 1:
        raise CLIError("--depth, --width and --batch-size must be >= 1")
    acts = list(dict.fromkeys(args.activation or ACTIVATIONS))
    inits = list(dict.fromkeys(args.init or INITS))
    os.makedirs(args.out, exist_ok=True)
    writer = None
    if not args.no_tensorboard:
        try:
            writer = SummaryWriter(log_dir=args.logdir or os.path.join(args.out, "tensorboard"))
        except (ImportError, NotImplementedError) as e:
            print(f"ember gradients: TensorBoard logging disabled ({e})", file=sys.stderr)

    ember.manual_seed(args.seed)
    x = ember.randn(args.batch_size, args.width)
    y = ember.randint(0, 10, (args.batch_size,))
    results: dict[str, list[float]] = {}
    n_layers = args.depth + 1
    cols = [f"L{i + 1}" for i in range(n_layers)]
    shown = cols if n_layers <= 8 else cols[:3] + ["..."] + cols[-3:]
    print(
        f"depth {args.depth} x width {args.width}, batch {args.batch_size}: ||dL/dW|| per layer (L1 = input side)"
    )
    print(f"{'setting':<17}" + "".join(f"{c:>10}" for c in shown) + "  first/last hidden  verdict")
    for act in acts:
        for init in inits:
            ember.manual_seed(args.seed)
            net = build_mlp(args.depth, args.width, act, init)
            norms = layer_grad_norms(net, x, y)
            label = f"{act}/{init}"
            results[label] = norms
            vals = norms if n_layers <= 8 else norms[:3] + [None] + norms[-3:]
            cells = "".join(f"{'...':>10}" if v is None else f"{v:>10.2e}" for v in vals)
            last = norms[-2] if len(norms) > 1 else norms[0]
            ratio = norms[0] / last if last and math.isfinite(last) else float("inf")
            print(f"{label:<17}{cells}  {ratio:>17.2e}  {verdict(norms)}")
            if writer is not None:
                linears = [m for m in net if isinstance(m, nn.Linear)]
                for i, m in enumerate(linears):
                    writer.add_histogram(f"{label}/grad/layer{i + 1:02d}", m.weight.grad.numpy(), 0)
                    writer.add_histogram(f"{label}/weight/layer{i + 1:02d}", m.weight.detach().numpy(), 0)
                for i, v in enumerate(norms):
                    writer.add_scalar(f"grad_norm/{label}", v, i + 1)
    if writer is not None:
        writer.close()
    png = plot_grad_norms(
        results, os.path.join(args.out, "gradients.png"), title=f"depth {args.depth}, width {args.width}"
    )
    print(f"plot: {png}")
    return 0
