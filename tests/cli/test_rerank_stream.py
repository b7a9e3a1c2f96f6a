"""`rerank --stream`: the candidates file read a few queries at a time gives the same run file and
metrics as the whole-file path; bad input is refused as there."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from rankscope.evaluate import stream as stream_mod

TOPICS = ["fleas live a year", "goldfish grow in tanks", "wifi has a long range", "cats sleep a lot"]


def candidates(path: Path, queries: int = 7, hits: int = 5, duplicate: bool = False) -> Path:
    rows = []
    for q in range(queries):
        docs = [
            {"docid": f"d{q}-{i}", "rank": i + 1, "score": float(-i), "content": TOPICS[(q + i) % 4]}
            for i in range(hits)
        ]
        rows.append({"qid": f"q{q}", "query": TOPICS[q % 4], "hits": docs})
    if duplicate:
        rows.append(rows[0])
    with gzip.open(path, "wt") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("with_queries", [False, True])
def test_stream_matches_the_whole_file(
    invoke, llama_dir: Path, tmp_path: Path, monkeypatch, with_queries: bool
) -> None:
    cands = candidates(tmp_path / "cands.jsonl.gz")
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q0 0 d0-1 1\nq2 0 d2-0 1\nq5 0 d5-3 1\nq9 0 d9-0 1\n")  # q9: judged, not a candidate
    args = ["rerank", "--model", str(llama_dir), "--scorer", "yes-no", "--candidates", str(cands)]
    args += ["--qrels", str(qrels), "--depth", "3", "--device", "cpu", "--dtype", "float32"]
    if with_queries:
        queries = tmp_path / "queries.tsv"
        queries.write_text("".join(f"q{q}\t{TOPICS[q % 4]}\n" for q in range(10)))
        args += ["--queries", str(queries)]
    assert invoke(*args, "--out", str(tmp_path / "whole")) in (0, None)
    monkeypatch.setattr(stream_mod, "CHUNK", 2)  # 7 queries in 4 chunks
    seen = []
    real_chunks = stream_mod.chunks
    monkeypatch.setattr(stream_mod, "chunks", lambda *a: (seen.append(c) or c for c in real_chunks(*a)))
    assert invoke(*args, "--stream", "--out", str(tmp_path / "stream")) in (0, None)
    whole, streamed = tmp_path / "whole", tmp_path / "stream"
    assert [len(c.hits) for c in seen] == [2, 2, 2, 1]
    assert (streamed / "run.trec").read_text() == (whole / "run.trec").read_text()
    a = json.loads((whole / "metrics.json").read_text())
    b = json.loads((streamed / "metrics.json").read_text())
    assert a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-12 for k in a), (a, b)


def test_stream_keeps_the_same_queries_as_the_whole_file(invoke, llama_dir: Path, tmp_path: Path) -> None:
    """`--max-queries N`: the N smallest query ids on both paths, in the file's order, evaluated on them."""
    cands = candidates(tmp_path / "cands.jsonl.gz", queries=7)
    lines = gzip.decompress(cands.read_bytes()).decode().splitlines()
    order = [6, 2, 0, 5, 1, 4, 3]  # kept by --max-queries 3: q0, q1, q2, written in this order
    cands.write_bytes(gzip.compress("".join(lines[i] + "\n" for i in order).encode()))
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q0 0 d0-1 1\nq2 0 d2-0 1\nq5 0 d5-3 1\n")  # q5 judged, not kept
    queries = tmp_path / "queries.tsv"
    queries.write_text("".join(f"q{q}\t{TOPICS[q % 4]}\n" for q in range(7)))
    args = ["rerank", "--model", str(llama_dir), "--scorer", "yes-no", "--candidates", str(cands)]
    args += ["--qrels", str(qrels), "--queries", str(queries), "--depth", "3", "--max-queries", "3"]
    args += ["--device", "cpu", "--dtype", "float32"]
    assert invoke(*args, "--out", str(tmp_path / "whole")) in (0, None)
    assert invoke(*args, "--stream", "--out", str(tmp_path / "stream")) in (0, None)
    whole = (tmp_path / "whole" / "run.trec").read_text()
    assert whole == (tmp_path / "stream" / "run.trec").read_text()
    assert list(dict.fromkeys(line.split()[0] for line in whole.splitlines())) == ["q2", "q0", "q1"]
    a = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    b = json.loads((tmp_path / "stream" / "metrics.json").read_text())
    assert a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-12 for k in a), (a, b)
    assert a["RR@10"] > 0  # over q0 and q2 only: q5 was not kept, so it does not count as a 0


def test_stream_refuses_bad_input(invoke, llama_dir: Path, tmp_path: Path, capsys) -> None:
    cands = candidates(tmp_path / "dup.jsonl.gz", queries=3, duplicate=True)
    args = ["rerank", "--model", str(llama_dir), "--scorer", "yes-no", "--depth", "2", "--stream"]
    assert invoke(*args, "--candidates", str(cands), "--out", str(tmp_path / "o")) == 2
    assert "duplicate query id 'q0'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert invoke(*args, "--candidates", "bm25", "--out", str(tmp_path / "o")) == 2
    assert "--stream reads a candidates file" in capsys.readouterr().err


def test_a_judged_query_without_candidates_counts_as_0_on_both_paths(
    invoke, llama_dir: Path, tmp_path: Path
) -> None:
    cands = candidates(tmp_path / "cands.jsonl.gz", queries=3)
    rows = gzip.decompress(cands.read_bytes()).decode()
    rows += json.dumps({"qid": "q3", "query": TOPICS[3], "hits": []}) + "\n"  # judged, nothing retrieved
    cands.write_bytes(gzip.compress(rows.encode()))
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q0 0 d0-1 1\nq2 0 d2-0 1\nq3 0 d3-0 1\n")
    args = ["rerank", "--model", str(llama_dir), "--scorer", "yes-no", "--candidates", str(cands)]
    args += ["--qrels", str(qrels), "--depth", "3", "--device", "cpu", "--dtype", "float32", "-m", "R@100"]
    assert invoke(*args, "--out", str(tmp_path / "whole")) in (0, None)
    assert invoke(*args, "--stream", "--out", str(tmp_path / "stream")) in (0, None)
    a = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    b = json.loads((tmp_path / "stream" / "metrics.json").read_text())
    assert a == b == {"R@100": pytest.approx(2 / 3)}  # the stream left q3 out: 1.0


def test_a_datasets_named_set_streams_only_its_own_queries() -> None:
    from rankscope.cli.rerank_stream import stream_inputs
    from rankscope.pipeline import load_inputs

    path, texts, _, _, only = stream_inputs("msmarco-dev600-dev", "bm25", None, None, None)
    assert texts is not None and only == set(texts)
    streamed = [q for c in stream_mod.chunks(path, 20, 256, None, only) for q in c.hits]
    whole = load_inputs(dataset="msmarco-dev600-dev", candidates="bm25", depth=20).candidates.hits
    assert streamed == list(whole) and len(streamed) < 600  # the file's 600: the train part's too
    kept = load_inputs(dataset="msmarco-dev600-dev", candidates="bm25", depth=20, max_queries=5)
    assert stream_mod.kept_queries(path, 5, only) == set(kept.candidates.hits)


def test_a_stream_of_other_queries_than_the_qrels_is_refused(
    invoke, llama_dir: Path, tmp_path, capsys
) -> None:
    cands = candidates(tmp_path / "cands.jsonl.gz", queries=3)
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("x1 0 d0-1 1\nx2 0 d2-0 1\n")  # another collection's
    args = ["rerank", "--model", str(llama_dir), "--scorer", "yes-no", "--candidates", str(cands)]
    args += ["--qrels", str(qrels), "--depth", "2", "--device", "cpu", "--dtype", "float32", "--stream"]
    assert invoke(*args, "--out", str(tmp_path / "o")) == 2  # read as all zeros before
    assert "shares no query with the qrels" in capsys.readouterr().err and not (tmp_path / "o").exists()
