"""``ember optim``: SGD, momentum, Adagrad, RMSprop, Adadelta and Adam (ember.optim) on 2-D test functions."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import ember
from ember import optim
from ember.cli.errors import CLIError
from ember.cli.plotting import plot_trajectories

OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adadelta", "adam")


@dataclass(frozen=True)
class TestFunction:
    f: Callable  # works on ember tensors and on NumPy arrays alike
    start: tuple[float, float]
    f_min: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    lrs: dict[str, float]  # a learning rate per optimizer that shows its typical behaviour


FUNCTIONS: dict[str, TestFunction] = {
    # the notes' ill-conditioned quadratic: slow along x1, steep along x2
    "book": TestFunction(
        lambda x1, x2: 0.1 * x1**2 + 2 * x2**2,
        (-5.0, -2.0),
        0.0,
        (-5.5, 1.5),
        (-3.0, 3.0),
        {"sgd": 0.4, "momentum": 0.03, "adagrad": 2.0, "rmsprop": 0.03, "adadelta": 1.0, "adam": 0.1},
    ),
    "rosenbrock": TestFunction(
        lambda x1, x2: (1 - x1) ** 2 + 100 * (x2 - x1**2) ** 2,
        (-1.5, 2.0),
        0.0,
        (-2.0, 2.0),
        (-1.0, 3.0),
        {"sgd": 1e-3, "momentum": 1e-3, "adagrad": 0.3, "rmsprop": 0.01, "adadelta": 1.0, "adam": 0.4},
    ),
    # four minima, all with f = 0
    "himmelblau": TestFunction(
        lambda x1, x2: (x1**2 + x2 - 11) ** 2 + (x1 + x2**2 - 7) ** 2,
        (0.0, 0.0),
        0.0,
        (-5.0, 5.0),
        (-5.0, 5.0),
        {"sgd": 0.01, "momentum": 1e-3, "adagrad": 1.0, "rmsprop": 0.03, "adadelta": 10.0, "adam": 0.4},
    ),
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "optim",
        help="compare optimizers on 2-D test functions (contour plot + steps-to-tolerance table)",
        description="Run SGD, momentum (0.9), Adagrad, RMSprop, Adadelta and Adam from ember.optim on 2-D test "
        "functions, print steps-to-tolerance and the final point, and draw the trajectories over contours.",
    )
    p.add_argument(
        "--function",
        action="append",
        choices=(*FUNCTIONS, "all"),
        help="test function (repeatable; default all): book = 0.1 x1^2 + 2 x2^2, rosenbrock, himmelblau",
    )
    p.add_argument(
        "--optimizer", action="append", choices=OPTIMIZERS, help="optimizer (repeatable; default all)"
    )
    p.add_argument("--steps", type=int, default=1000, help="steps per run (default 1000)")
    p.add_argument(
        "--tol", type=float, default=1e-3, help="converged once f - f_min stays below this (default 1e-3)"
    )
    p.add_argument(
        "--lr", type=float, help="one learning rate for every optimizer (default: a tuned one each)"
    )
    p.add_argument("--out", metavar="DIR", default=os.path.join("runs", "optim"), help="output directory")
    p.set_defaults(func=run)


def make_optimizer(name: str, params, lr: float):
    if name == "sgd":
        return optim.SGD(params, lr=lr)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, alpha=0.9)
    if name == "adadelta":
        return optim.Adadelta(params, lr=lr, rho=0.9)
    if name == "adam":
        return optim.Adam(params, lr=lr)
    raise CLIError(f"unknown optimizer {name!r}")


def optimize(fn: TestFunction, name: str, lr: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Trajectory (steps + 1, 2) and f values (steps + 1,) of one optimizer from the function's start."""
    x = ember.tensor(fn.start, dtype=ember.float64, requires_grad=True)
    opt = make_optimizer(name, [x], lr)
    path, values = [x.detach().numpy().copy()], [float(fn.f(*fn.start))]
    for _ in range(steps):
        opt.zero_grad()
        loss = fn.f(x[0], x[1])
        loss.backward()
        opt.step()
        p = x.detach().numpy().copy()
        path.append(p)
        values.append(float(fn.f(p[0], p[1])))
        if not np.all(np.isfinite(p)) or abs(values[-1]) > 1e12:
            break  # diverged: keep the path so far
    return np.array(path), np.array(values)


def steps_to_tol(values: np.ndarray, f_min: float, tol: float) -> int | None:
    """First step from which f - f_min stays below ``tol`` until the end; None if it never settles."""
    ok = np.isfinite(values) & (values - f_min < tol)
    if not ok[-1]:
        return None
    bad = np.flatnonzero(~ok)
    return int(bad[-1] + 1) if len(bad) else 0


def run(args: argparse.Namespace) -> int:
    names = (
        list(FUNCTIONS) if not args.function or "all" in args.function else list(dict.fromkeys(args.function))
    )
    opts = list(dict.fromkeys(args.optimizer)) if args.optimizer else list(OPTIMIZERS)
    if args.steps <= 0 or args.tol <= 0 or (args.lr is not None and args.lr <= 0):
        raise CLIError("--steps, --tol and --lr must be positive")
    os.makedirs(args.out, exist_ok=True)
    panels = []
    header = f"{'function':<11} {'optimizer':<9} {'lr':>8} {'steps to tol':>12} {'final x1':>10} {'final x2':>10} {'f - f_min':>11}"
    print(header)
    print("-" * len(header))
    for fname in names:
        fn = FUNCTIONS[fname]
        paths = {}
        for oname in opts:
            lr = args.lr if args.lr is not None else fn.lrs[oname]
            path, values = optimize(fn, oname, lr, args.steps)
            hit = steps_to_tol(values, fn.f_min, args.tol) if len(values) == args.steps + 1 else None
            gap = values[-1] - fn.f_min
            gap_s = f"{gap:11.3e}" if math.isfinite(gap) else f"{'diverged':>11}"
            hit_s = str(hit) if hit is not None else "-"
            print(
                f"{fname:<11} {oname:<9} {lr:>8g} {hit_s:>12} {path[-1, 0]:>10.4f} {path[-1, 1]:>10.4f} {gap_s}"
            )
            paths[f"{oname} (lr {lr:g})"] = path
        panels.append((fname, fn.f, (fn.xlim, fn.ylim), paths))
    png = plot_trajectories(panels, os.path.join(args.out, "optimizers.png"))
    print(f"plot: {png}")
    return 0
