"""The `rankscope` command line: one thin module per command group over the Python API.

Modules: data (datasets, retrieve), rerank, evaluate (evaluate, compare), train (train, export, soup,
sweep, synth, pseudo-label, demo), inspect (inspect, report). Each registers its commands on the one
typer app.
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
    "soup",
    "sweep",
    "synth",
    "pseudo-label",
    "demo",
    "inspect",
    "report",
)
"""Every command the CLI has (tests/cli checks that none is lost)."""


def _error(message: str, code: int) -> None:
    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def main() -> None:
    """Entry point: bad input prints one line and exits with code 2; a full disk prints one line
    naming the output being written and exits with code 1."""
    from rankscope.io import DiskFullError, disk_full
    from rankscope.runtime import return_freed_memory

    try:
        return_freed_memory()  # freed activations and batches go back to the OS (peak RSS)
        app()
    except InputError as e:
        _error(str(e), 2)
    except DiskFullError as e:
        _error(str(e), 1)
    except Exception as e:
        if not disk_full(e):
            raise
        path = getattr(e, "filename", None) or "the output"
        _error(f"disk full while writing {path}", 1)


__all__ = ["COMMANDS", "app", "main"]
