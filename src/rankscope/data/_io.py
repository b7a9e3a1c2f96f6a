"""Low-level text I/O shared by the readers: transparent gzip, numbered lines, JSON lines, id checks."""

from __future__ import annotations

import gzip
import io
import json
import logging
import math
import zlib
from collections.abc import Iterable, Iterator, Sized
from pathlib import Path
from typing import Any, TextIO, TypeVar

from rankscope.errors import InputError, require_file

log = logging.getLogger("rankscope.data")
T = TypeVar("T", bound=Sized)


def is_gzip(path: str | Path) -> bool:
    """True when the file name ends in .gz (the only signal used for compression)."""
    return str(path).endswith(".gz")


def open_text(path: str | Path) -> TextIO:
    """Open an existing UTF-8 text file for reading, gunzipping it when its name ends in .gz.

    Lines end at "\\n" only (a stray "\\r" inside a passage does not split it); callers strip "\\r\\n".
    """
    p = require_file(path)
    if is_gzip(p):
        return gzip.open(p, "rt", encoding="utf-8-sig", newline="\n")
    return open(p, encoding="utf-8-sig", newline="\n")


class _OwnedGzip(gzip.GzipFile):
    """A GzipFile that closes the file object it was given (GzipFile leaves it open)."""

    def close(self) -> None:
        inner = self.fileobj
        try:
            super().close()
        finally:
            if inner is not None:
                inner.close()


def open_write(path: str | Path, as_name: str | Path | None = None) -> TextIO:
    """Open `path` for writing UTF-8 text (gzip with a fixed timestamp when it ends in .gz). `as_name`: the
    file's final name when `path` is a temporary copy of it (its .gz decides; the gzip header holds it)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    name = Path(as_name) if as_name is not None else p
    if is_gzip(name):
        raw = _OwnedGzip(filename=name.name, mode="wb", mtime=0, fileobj=open(p, "wb"))  # noqa: SIM115
        return io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
    return open(p, "w", encoding="utf-8", newline="\n")


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its line ending) for every line of a text file."""
    p = require_file(path)
    lineno = 0
    try:
        with open_text(p) as f:
            for lineno, raw in enumerate(f, 1):
                yield lineno, raw.rstrip("\r\n")
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text ({e.reason})", p, lineno + 1) from e
    except (OSError, EOFError, zlib.error) as e:  # gzip: not a gzip file, truncated or corrupt stream
        raise InputError(f"cannot read file: {e}", p, lineno + 1) from e


def require_records(records: T, path: str | Path, what: str) -> T:
    """`records` unchanged, or InputError when there are none: an empty (or blank) file is refused rather
    than read as nothing (an empty run would otherwise evaluate quietly to 0)."""
    if not records:
        raise InputError(f"empty file: no {what} found", path)
    return records


def iter_records(path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, whitespace-separated columns) for each non-blank line."""
    for lineno, line in iter_lines(path):
        parts = line.split()
        if parts:
            yield lineno, parts


def iter_json(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line of a JSON-lines file."""
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"bad JSON: {e.msg} at column {e.colno}", path, lineno) from e
        except (ValueError, RecursionError) as e:  # an integer too long to convert, nesting too deep
            raise InputError(f"bad JSON: {str(e)[:80]}", path, lineno) from e
        if not isinstance(obj, dict):
            raise InputError(f"expected a JSON object, found {type(obj).__name__}", path, lineno)
        yield lineno, obj


def json_id(obj: dict[str, Any], key: str, path: str | Path, lineno: int) -> str:
    """Field `key` of a JSON record as a non-empty id string (JSON integers are accepted)."""
    if key not in obj:
        raise InputError(f"missing field {key!r}", path, lineno)
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(f"field {key!r} must be a string id, found {type(value).__name__}", path, lineno)
    text = str(value).strip()
    if not text:
        raise InputError(f"empty {key!r}", path, lineno)
    if any(c.isspace() for c in text):
        raise InputError(f"{key!r} {text!r} contains whitespace; TREC files cannot hold it", path, lineno)
    return text


def json_text(
    obj: dict[str, Any], key: str, path: str | Path, lineno: int, *, what: str, required: bool = True
) -> str | None:
    """Field `key` as a string; InputError when it is not a string, or empty/absent while `required`."""
    value = obj.get(key)
    if value is None:
        if required:
            raise InputError(f"missing field {key!r}", path, lineno)
        return None
    if not isinstance(value, str):
        raise InputError(f"field {key!r} must be a string, found {type(value).__name__}", path, lineno)
    if required and not value.strip():
        raise InputError(f"empty {what}", path, lineno)
    return value


def parse_int(value: str, what: str, path: str | Path, lineno: int) -> int:
    """Parse an integer column, raising InputError naming the column on failure."""
    try:
        return int(value)
    except ValueError:
        shown = repr(value) if len(value) <= 40 else repr(value[:40]) + "..."
        raise InputError(f"{what} {shown} is not an integer", path, lineno) from None


def parse_float(value: Any, what: str, path: str | Path, lineno: int) -> float:
    """Parse a finite (or infinite, never NaN) number, raising InputError on failure."""
    if isinstance(value, bool):
        raise InputError(f"{what} {value!r} is not a number", path, lineno)
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
        raise InputError(f"{what} {shown} is not a number", path, lineno) from None
    if math.isnan(x):
        raise InputError(f"{what} is NaN", path, lineno)
    return x


def find_line(path: str | Path, value: str, column: int = 0) -> int | None:
    """1-based number of the first line whose whitespace column `column` equals `value` (skips a header)."""
    for lineno, parts in iter_records(path):
        if len(parts) > column and parts[column] == value:
            return lineno
    return None


def check_qrels_queries(qrels: dict[str, dict[str, int]], queries: dict[str, str], path: str | Path) -> None:
    """Raise InputError at the first qrels line whose query id is not among `queries` (for the registered
    datasets, whose files must agree; user files go through `subset_qrels`)."""
    for qid in qrels:
        if qid not in queries:
            raise InputError(f"qrels for unknown query {qid!r}", path, find_line(path, qid))


def subset_qrels(
    qrels: dict[str, dict[str, int]], queries: Iterable[str], path: str | Path
) -> dict[str, dict[str, int]]:
    """The judgements of `queries` only: official qrels usually judge more queries than a subset being
    evaluated. The skipped queries are counted in ONE warning on the ``rankscope.data`` logger (logging,
    not `warnings`: it is a fact about the input, not about the code). Qrels that judge none of the queries
    are an InputError: the files do not belong together."""
    wanted = set(queries)
    kept = {q: docs for q, docs in qrels.items() if q in wanted}
    if not kept:
        first = next(iter(qrels), None)
        line = find_line(path, first) if first is not None and Path(path).is_file() else None
        raise InputError(f"the qrels judge none of the {len(wanted)} queries (first: {first!r})", path, line)
    skipped = len(qrels) - len(kept)
    if skipped:
        example = next(q for q in qrels if q not in wanted)
        log.warning(
            "%s: skipped the judgements of %d queries that are not among the %d queries (e.g. %r)",
            path,
            skipped,
            len(wanted),
            example,
        )
    return kept
