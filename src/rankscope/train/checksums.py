"""Checkpoint checksums: each checkpoint-N folder gets checksums.json (sha256 of every file in it),
written last and atomically, so a folder without it was cut off while being written. A resumed run
takes the newest checkpoint whose files all match; a damaged or incomplete one is moved aside
(damaged-checkpoint-N) with a warning naming it and the file."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path

from rankscope.io import atomic_file

log = logging.getLogger("rankscope.train")
CHECKSUMS = "checksums.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_CHUNK = 1 << 20


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.name != CHECKSUMS and not p.name.startswith(".")
    )


def write_checksums(folder: str | Path) -> Path:
    """Record the sha256 of every file in `folder` in folder/checksums.json (atomically, last)."""
    folder = Path(folder)
    sums = {p.relative_to(folder).as_posix(): sha256(p) for p in _files(folder)}
    target = folder / CHECKSUMS
    with atomic_file(target) as tmp:
        tmp.write_text(json.dumps({"algorithm": "sha256", "files": sums}, indent=2) + "\n")
    return target


def checkpoint_problem(folder: str | Path) -> str | None:
    """Why `folder` cannot be resumed from (None when every recorded file matches its checksum)."""
    folder = Path(folder)
    path = folder / CHECKSUMS
    if not path.is_file():
        return f"no {CHECKSUMS} (incomplete: cut off while being written)"
    try:
        files = json.loads(path.read_text())["files"]
        if not isinstance(files, dict) or not files:
            raise ValueError("no files listed")
    except (ValueError, KeyError, TypeError) as e:
        return f"{CHECKSUMS} unreadable ({e})"
    for name, want in sorted(files.items()):
        p = folder / name
        if not p.is_file():
            return f"{name}: missing"
        if sha256(p) != want:
            return f"{name}: checksum mismatch (truncated or corrupted)"
    return None


def checkpoints_newest_first(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = [
        (int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))
    ]
    return [p for _, p in sorted(found, reverse=True)]


def move_aside(folder: Path) -> Path:
    """Rename `folder` to damaged-<name> (damaged-<name>.2, ... when taken) beside it."""
    dest = folder.with_name(f"damaged-{folder.name}")
    n = 1
    while dest.exists():
        n += 1
        dest = folder.with_name(f"damaged-{folder.name}.{n}")
    os.replace(folder, dest)
    return dest


def last_good_checkpoint(folder: str | Path, move: bool = True) -> Path | None:
    """The newest checkpoint under `folder` whose checksums match; newer damaged or incomplete ones are
    reported and (with `move`) renamed aside, so training redoes their steps and saves them again."""
    damaged = 0
    for ckpt in checkpoints_newest_first(Path(folder)):
        problem = checkpoint_problem(ckpt)
        if problem is None:
            if damaged:
                log.warning("falling back to the previous good checkpoint %s", ckpt.name)
            return ckpt
        damaged += 1
        where = f"moved aside to {move_aside(ckpt).name}" if move else "skipped"
        log.warning("damaged checkpoint %s: %s; %s", ckpt.name, problem, where)
    if damaged:
        log.warning("no good checkpoint left: starting again at step 0")
    return None
