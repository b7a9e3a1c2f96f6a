"""One error type for bad user input: the CLI prints it on one line and exits with code 2."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input from the user: a file, a line in it, an option or a config field."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(f"{where}{message}")


def require_file(path: str | Path) -> Path:
    """Return `path` as a Path, or raise InputError when it is not an existing file."""
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", p)
    return p
