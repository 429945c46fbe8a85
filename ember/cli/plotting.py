"""Matplotlib figures of the `ember` subcommands, drawn headless (Agg) and saved as PNG."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")
    _pyplot().close(fig)
    return path


def plot_curves(history: dict[str, list[float]], path: str, title: str = "") -> str:
    """Loss (left) and accuracy (right, when present) against epoch."""
    plt = _pyplot()
    has_acc = any(k.endswith("acc") and history[k] for k in history)
    fig, axes = plt.subplots(1, 2 if has_acc else 1, figsize=(10 if has_acc else 5, 3.8), squeeze=False)
    epochs = np.arange(1, len(history.get("train_loss", [])) + 1)
    ax = axes[0][0]
    ax.plot(epochs, history.get("train_loss", []), "o-", label="train loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log" if min(history.get("train_loss", [1]) or [1]) > 0 else "linear")
    ax.grid(True, alpha=0.3)
    ax.legend()
    if has_acc:
        ax = axes[0][1]
        for key, label in (("train_acc", "train acc"), ("test_acc", "test acc")):
            if history.get(key):
                ax.plot(epochs[: len(history[key])], history[key], "o-", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy")
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_trajectories(
    panels: Sequence[
        tuple[str, Callable[[np.ndarray, np.ndarray], np.ndarray], tuple, dict[str, np.ndarray]]
    ],
    path: str,
) -> str:
    """One contour panel per test function with each optimizer's path; panels = (name, f, (xlim, ylim), paths)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 5), squeeze=False)
    for ax, (name, f, (xlim, ylim), paths) in zip(axes[0], panels):
        xs, ys = np.meshgrid(np.linspace(*xlim, 300), np.linspace(*ylim, 300))
        zs = f(xs, ys)
        lo, hi = float(zs.min()), float(zs.max())
        levels = lo + np.geomspace(1e-3, max(hi - lo, 2e-3), 25)  # log-spaced: valleys stay visible
        ax.contour(xs, ys, zs, levels=levels, cmap="Greys", linewidths=0.6)
        for label, traj in paths.items():
            ax.plot(traj[:, 0], traj[:, 1], ".-", markersize=2, linewidth=1, label=label)
            ax.plot(traj[-1, 0], traj[-1, 1], "x", color=ax.lines[-1].get_color())
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_title(name)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_grad_norms(norms: dict[str, Sequence[float]], path: str, title: str = "") -> str:
    """Per-layer gradient norm (log scale), one line per setting."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for label, values in norms.items():
        v = np.asarray(values, dtype=np.float64)
        v = np.where(np.isfinite(v) & (v > 0), v, np.nan)
        ax.plot(np.arange(1, len(v) + 1), v, "o-", markersize=3, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("layer (1 = input side)")
    ax.set_ylabel("||dL/dW||")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=3)
    if title:
        ax.set_title(title)
    return _save(fig, path)
