"""The `rankscope` command line: one thin module per command group over the Python API.

Modules: data (datasets, retrieve), rerank, evaluate (evaluate, compare), train (train, export, sweep,
synth, demo), inspect (inspect, report). Each registers its commands on the one typer app.
"""

from __future__ import annotations

import sys

from rich.console import Console

from rankscope.cli import data, evaluate, inspect, rerank, train  # noqa: F401  (register the commands)
from rankscope.cli.app import app
from rankscope.errors import InputError

COMMANDS = (
    "datasets",
    "retrieve",
    "rerank",
    "evaluate",
    "compare",
    "fuse",
    "train",
    "export",
    "sweep",
    "synth",
    "demo",
    "inspect",
    "report",
)
"""Every command the CLI has (tests/cli checks that none is lost)."""


def main() -> None:
    """Entry point: bad input prints one line and exits with code 2."""
    try:
        app()
    except InputError as e:
        Console(stderr=True).print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)


__all__ = ["COMMANDS", "app", "main"]
