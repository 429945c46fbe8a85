"""The error every subcommand raises for a user-facing failure."""

from __future__ import annotations


class CLIError(Exception):
    """A user-facing failure: printed as one line on stderr, exit status 1."""
