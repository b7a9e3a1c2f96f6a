"""Training files that rankscope writes: FlagEmbedding jsonl rows ``{"query", "pos", "neg"}`` (what
``train.files`` reads) with a stats file beside them, both written whole or not at all."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from rankscope.data._io import open_write
from rankscope.errors import InputError


def stats_path(out: str | Path, kind: str) -> Path:
    """Where the stats of `out` go: ``NAME.KIND.json`` beside ``NAME.jsonl[.gz]``."""
    out = Path(out)
    name = out.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return out.with_name(f"{name}.{kind}.json")


def check_output(out: str | Path, overwrite: bool, kind: str) -> None:
    """Refuse an output that is not a .jsonl[.gz] file, or exists (with its stats) without `overwrite`."""
    out = Path(out)
    if not out.name.endswith((".jsonl", ".jsonl.gz")):
        raise InputError("the output must be a .jsonl or .jsonl.gz file", "--out")
    if out.is_dir():
        raise InputError("the output is a folder, expected a .jsonl file", out)
    for p in (out, stats_path(out, kind)):
        if p.exists() and not overwrite:
            raise InputError("output file exists (pass --overwrite to replace it)", p)


def write_rows(
    rows: Sequence[Mapping[str, object]],
    stats: Mapping[str, object],
    out: str | Path,
    kind: str,
    overwrite: bool = False,
) -> Path:
    """Write the rows to `out` and the stats beside it, each to a temporary file renamed into place;
    returns the stats path."""
    out = Path(out)
    check_output(out, overwrite, kind)
    out.parent.mkdir(parents=True, exist_ok=True)
    tag = f".tmp-{os.getpid()}-"
    tmp_rows = out.with_name(tag + out.name)  # keeps the .gz suffix that open_write looks at
    stats_file = stats_path(out, kind)
    tmp_stats = stats_file.with_name(tag + stats_file.name)
    try:
        with open_write(tmp_rows) as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        tmp_stats.write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
        os.replace(tmp_stats, stats_file)
        os.replace(tmp_rows, out)
    finally:
        for p in (tmp_rows, tmp_stats):
            p.unlink(missing_ok=True)
    return stats_file
