"""CLI fixtures: small query/qrels/candidate files (`invoke`, the entry point, is in tests/conftest.py)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    queries = tmp_path / "queries.tsv"
    queries.write_text("q1\thow long do fleas live\nq2\tdo goldfish grow\n")
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 Q0 d1 2\nq1 Q0 d2 0\nq2 Q0 d3 1\n")
    cands = tmp_path / "cands.jsonl.gz"
    rows = [
        {
            "qid": "q1",
            "query": "how long do fleas live",
            "hits": [
                {"docid": "d2", "rank": 1, "score": 3.0, "content": "goldfish grow in ponds"},
                {"docid": "d1", "rank": 2, "score": 2.0, "content": "the flea life cycle lasts up to a year"},
            ],
        },
        {
            "qid": "q2",
            "query": "do goldfish grow",
            "hits": [{"docid": "d3", "rank": 1, "score": 1.0, "content": "goldfish grow to fit their tank"}],
        },
    ]
    with gzip.open(cands, "wt") as f:
        f.write("\n".join(json.dumps(r) for r in rows) + "\n")
    return {"queries": queries, "qrels": qrels, "candidates": cands}
