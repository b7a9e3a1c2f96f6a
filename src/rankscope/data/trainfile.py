"""Training files that rankscope writes: FlagEmbedding jsonl rows ``{"query", "pos", "neg"}`` (what
``train.files`` reads) with a stats file beside them, both written whole or not at all."""

from __future__ import annotations

import json
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


def check_output(
    out: str | Path, overwrite: bool, kind: str, inputs: Sequence[str | Path | None] = ()
) -> None:
    """Refuse an output that is not a .jsonl[.gz] file, exists (with its stats) without `overwrite`, or is
    one of the `inputs` files (--overwrite replaced the candidates file being read with training rows)."""
    out = Path(out)
    if not out.name.endswith((".jsonl", ".jsonl.gz")):
        raise InputError("the output must be a .jsonl or .jsonl.gz file", "--out")
    if out.is_dir():
        raise InputError("the output is a folder, expected a .jsonl file", out)
    for p in (out, stats_path(out, kind)):
        if p.exists() and any(i is not None and Path(i).exists() and p.samefile(i) for i in inputs):
            raise InputError("is one of the inputs: give another output file", p)
        if p.exists() and not overwrite:
            raise InputError("output file exists (pass --overwrite to replace it)", p)


def write_rows(
    rows: Sequence[Mapping[str, object]],
    stats: Mapping[str, object],
    out: str | Path,
    kind: str,
    overwrite: bool = False,
    inputs: Sequence[str | Path | None] = (),
) -> Path:
    """Write the rows to `out` and the stats beside it, each through a temporary copy renamed into place
    (`atomic_file`: a killed run's copies are removed by the next); returns the stats path."""
    from rankscope.io import atomic_file

    out = Path(out)
    check_output(out, overwrite, kind, inputs)
    stats_file = stats_path(out, kind)
    with atomic_file(out) as tmp, open_write(tmp, as_name=out) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.close()  # whole before the stats say so
        with atomic_file(stats_file) as tmp_stats:
            tmp_stats.write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    return stats_file
