"""Atomic output: a command writes into a hidden temporary folder (or file) renamed into place at the end.
A full disk (ENOSPC, or EFBIG past a file size limit) while writing becomes DiskFullError naming the
output, which the CLI prints as one line (exit code 1); the temporary copy is removed, the old output
stays as it was."""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from rankscope.errors import InputError

DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EFBIG)
_DISK_FULL_TEXT = re.compile(
    r"os error (27|28)\b|No space left on device|File too large|file write failed|iostream error"
)
"""what libraries that do not raise OSError say (safetensors' Rust I/O errors, torch.save's writer)."""


class DiskFullError(Exception):
    """No space left (or a file size limit reached) while writing `path`."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        super().__init__(f"disk full while writing {self.path}")


def disk_full(exc: BaseException) -> bool:
    """Whether `exc` (or an exception it was raised from or during) is a full disk."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, DiskFullError):
            return True
        if isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS:
            return True
        if not isinstance(e, OSError) and _DISK_FULL_TEXT.search(str(e)):
            return True
        e = e.__cause__ or e.__context__
    return False


def _as_disk_full(exc: BaseException, tmp: Path, out: Path) -> DiskFullError | None:
    """DiskFullError naming the file under `out` that `exc` failed to write (or `out`); None when `exc`
    is not a full disk, or already names a file outside `tmp`."""
    if isinstance(exc, DiskFullError):
        name: object = exc.path
    elif disk_full(exc):
        name = getattr(exc, "filename", None)
    else:
        return None
    inside = isinstance(name, str) and Path(name).is_relative_to(tmp)
    if inside and Path(str(name)) != tmp:
        return DiskFullError(out / Path(str(name)).relative_to(tmp))
    if isinstance(exc, DiskFullError) and not inside:
        return None
    return DiskFullError(out)


def host_prefix(name: str) -> str:
    """The start of this host's temporary copies of NAME: .NAME.tmp-HOST-"""
    return f".{name}.tmp-{socket.gethostname()}-"


def _tmp_prefix(name: str) -> str:
    """Temporary copies are named .NAME.tmp-HOST-PID-random, so that a later command can tell the ones
    a killed process left behind (same host, that process gone) and remove them."""
    return f"{host_prefix(name)}{os.getpid()}-"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_copies(target: Path) -> Iterator[tuple[Path, str]]:
    """The temporary copies of `target` beside it whose process (of this host) is gone, each with the rest
    of its name after HOST-PID- ('old-HEX' for atomic_dir's earlier output, set aside)."""
    prefix = host_prefix(target.name)
    for p in target.parent.glob(glob.escape(prefix) + "*"):
        pid, _, rest = p.name[len(prefix) :].partition("-")
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            yield p, rest


def remove_stale(target: Path) -> list[Path]:
    """Remove the temporary copies of `target` that killed processes of this host left beside it."""
    removed = []
    for p, _ in _dead_copies(target):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def read_weights(path: str | Path) -> dict[str, Any]:
    """A safetensors file's tensors; a damaged (e.g. cut-off) file is an InputError naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as e:
        msg = f"damaged weights file ({e}): pick another checkpoint or train again"
        raise InputError(msg, path) from None


def check_apart(
    out: str | Path, inputs: Sequence[str | Path | None], option: str = "--out", inside_ok: bool = False
) -> None:
    """Refuse an output folder that is, holds or (unless `inside_ok`) lies inside one of the inputs:
    replacing it (--overwrite) would delete what is being read. Inputs that are None or no existing path
    (a registered dataset's or model's name) are skipped."""
    o = Path(out).resolve()
    for i in inputs:
        if i is None or not Path(i).exists():
            continue
        p = Path(i).resolve()
        if o == p or (o.is_relative_to(p) and not inside_ok) or p.is_relative_to(o):
            raise InputError(
                f"the output would replace or lie inside the input {i}: give another folder", option
            )


def temporary_dir_for(target: Path) -> Path:
    """A new temporary folder beside `target`, named so that a later command removes it when the process
    that made it was killed (`remove_stale`, which runs first), with a plain mkdir's permissions."""
    remove_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(target.name), dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # as a plain mkdir would make it (mkdtemp makes it 0700)
    return tmp


_ASIDE = "old-"
"""Marks the earlier output of `atomic_dir`, renamed aside during the swap: .NAME.tmp-HOST-PID-old-HEX."""


def _restore_aside(out: Path) -> None:
    """A process killed between atomic_dir's two renames left `out` missing and its earlier output aside:
    put it back (before `remove_stale` would delete it as a dead process's copy)."""
    aside = [p for p, rest in _dead_copies(out) if rest.startswith(_ASIDE) and p.is_dir()]
    for p in sorted(aside, key=lambda q: q.stat().st_mtime, reverse=True)[:1]:  # the newest
        os.replace(p, out)


@contextmanager
def atomic_dir(
    out: str | Path, overwrite: bool = False, inputs: Sequence[str | Path | None] = ()
) -> Iterator[Path]:
    """Yield a temporary folder; on success it becomes `out`, on any error it is removed. `out` is refused
    when it is or holds one of `inputs` (`check_apart`; a folder inside an input folder, e.g. a rerank's
    output inside the run it scores, replaces nothing read), or holds the working folder; a symbolic link
    is followed (the folder it names is replaced)."""
    given = out
    check_apart(given, inputs, inside_ok=True)
    out = Path(out).resolve()  # "." or a link: the folder itself, so the temporary one sits beside it
    if not out.exists() and out.parent.is_dir():
        _restore_aside(out)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder: the output is a folder", given)
    if Path.cwd().resolve().is_relative_to(out):
        raise InputError("is the folder you are working in (or holds it): give another output folder", given)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise InputError("output folder exists and is not empty (pass --overwrite to replace it)", given)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_dir_for(out)
    try:
        yield tmp
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        full = _as_disk_full(e, tmp, out)
        if full is not None:
            raise full from e
        raise
    # the old output moves aside and the new one in by two renames, then the old one is deleted: no kill
    # leaves a half-deleted folder (deleting it in place did), and a failed rename puts the old one back
    old = out.parent / f"{_tmp_prefix(out.name)}{_ASIDE}{uuid.uuid4().hex[:8]}" if out.exists() else None
    try:
        if old is not None:
            os.replace(out, old)
        os.replace(tmp, out)
    except BaseException:
        if old is not None and old.exists() and not out.exists():
            os.replace(old, out)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` (flushed to disk first), on
    any error it is removed, so `path` is either the old file or the whole new one."""
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()  # a link is written through (the file it names is replaced), not replaced
    if path.is_dir():
        raise InputError("is a folder: the output is a file", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    fd, name = tempfile.mkstemp(prefix=_tmp_prefix(path.name), dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # as a plain open() would create it (mkstemp makes it 0600)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        full = _as_disk_full(e, tmp, path)
        if full is not None:
            raise full from e
        raise


def write_npz(path: str | Path, **arrays: Any) -> Path:
    """Atomically (atomic_file) write arrays as `np.savez` does, into a file object (given a temporary
    name, np.savez would write to NAME.npz instead)."""
    import numpy as np

    path = Path(path)
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def write_json(path: Path, data: Any) -> None:
    """Atomically (atomic_file): the file at `path` is always a whole one."""
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_yaml(path: Path, data: Any) -> None:
    """Atomically (atomic_file): the file at `path` is always a whole one."""
    with atomic_file(path) as tmp:
        tmp.write_text(yaml.safe_dump(data, sort_keys=False))


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a jsonl log; a last line cut off by a kill or a full disk (no newline) is dropped."""
    path = Path(path)
    if not path.is_file():
        return []
    text = path.read_text()
    lines = text.splitlines()
    if lines and not text.endswith("\n"):
        try:
            json.loads(lines[-1])
        except ValueError:
            lines.pop()
    return [json.loads(line) for line in lines if line.strip()]


def file_digest(path: str | Path, size: int = 12) -> str:
    """The first `size` hex digits of a file's sha256, read in blocks (a GGUF model, a teacher file)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()[:size]
