"""A full disk while writing outputs: one line naming the output, exit code 1, no traceback, no
half-written file at the output's path and earlier outputs intact. Simulated in a subprocess with a file
size limit (the `rankscope` fixture: RLIMIT_FSIZE, SIGXFSZ ignored) so writes past it fail with EFBIG."""

from __future__ import annotations

import gzip
import json
from pathlib import Path


def candidates(path: Path, queries: int = 2, hits: int = 40) -> Path:
    rows = [
        {
            "qid": f"q{q}",
            "query": f"how long do fleas live {q}",
            "hits": [
                {"docid": f"doc-{q}-{i:03d}", "rank": i + 1, "score": float(-i), "content": f"fleas {i}"}
                for i in range(hits)
            ],
        }
        for q in range(queries)
    ]
    with gzip.open(path, "wt") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_rerank_on_a_full_disk_keeps_the_earlier_output(rankscope, llama_dir: Path, tmp_path: Path) -> None:
    cands = candidates(tmp_path / "cands.jsonl.gz")
    queries = tmp_path / "queries.tsv"
    queries.write_text("q0\thow long do fleas live 0\nq1\thow long do fleas live 1\n")
    out = tmp_path / "rr"
    args = ["rerank", "--model", str(llama_dir), "--scorer", "yes-no", "--candidates", str(cands)]
    args += ["--queries", str(queries), "--depth", "40", "--device", "cpu", "--out", str(out)]
    first = rankscope(*args)
    assert first.returncode == 0, first.stderr[-2000:]
    before = snapshot(out)
    assert len(before["run.trec"]) > 3000

    full = rankscope(*args, "--overwrite", limit=2000)  # run.trec (80 lines) cannot be written
    assert full.returncode == 1, full.stderr[-2000:]
    errors = [line for line in full.stderr.splitlines() if "error" in line.lower()]
    # the file that could not be written, under the folder's final name (the folder alone before
    # write_trec_run wrote atomically itself)
    assert errors == [f"error: disk full while writing {out / 'run.trec'}"], full.stderr[-2000:]
    assert "Traceback" not in full.stderr
    assert snapshot(out) == before  # the earlier output, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cands.jsonl.gz", "queries.tsv", "rr"]

    fresh = tmp_path / "fresh"
    full = rankscope(*args[:-1], str(fresh), limit=2000)
    assert full.returncode == 1 and "disk full while writing" in full.stderr
    assert not fresh.exists()  # nothing half-written at the output's path
