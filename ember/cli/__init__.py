"""The ``ember`` command: the classic experiments of the study notes, one subcommand per module."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import ember
from ember.cli import gradients, info, optim_demo, train
from ember.cli import run as run_cmd
from ember.cli.errors import CLIError

SUBCOMMANDS = ("train", "run", "optim", "gradients", "info")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ember",
        description="ember: PyTorch's API on NumPy. Classic deep-learning experiments from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"ember {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(SUBCOMMANDS) + "}")
    train.add_parser(sub)
    run_cmd.add_parser(sub)
    optim_demo.add_parser(sub)
    gradients.add_parser(sub)
    info.add_parser(sub)
    return parser


def _version() -> str:
    return ember.__version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status (0 on success)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version and usage errors (argparse already printed them)
        return e.code if isinstance(e.code, int) else 1
    args.argv = list(sys.argv[1:] if argv is None else argv)  # `ember train --nproc` starts itself again
    if getattr(args, "func", None) is None:
        parser.print_usage(sys.stderr)
        print("ember: error: a subcommand is required (" + ", ".join(SUBCOMMANDS) + ")", file=sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"ember {args.command}: interrupted", file=sys.stderr)
        return 130
    except (CLIError, RuntimeError, ValueError, OSError, ImportError, NotImplementedError) as e:
        if os.environ.get("EMBER_DEBUG"):
            raise
        print(f"ember {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
