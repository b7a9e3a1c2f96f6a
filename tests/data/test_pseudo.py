"""Pseudo-labels from a teacher run: which documents become positives and negatives, the errors, and the
command line's file that training reads (small candidate, query and run files; no model)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from unittest.mock import patch

import pytest

from rankscope.cli import main
from rankscope.config import TrainData
from rankscope.data.pseudo import pseudo_label, stats_path
from rankscope.data.registry import data_root, load_named
from rankscope.data.types import Candidates, Document, Hit
from rankscope.errors import InputError
from rankscope.testing import killed_copy
from rankscope.train.data import file_groups


def cands(n: int = 10, queries: tuple[str, ...] = ("q1", "q2")) -> Candidates:
    """`n` BM25 hits per query, d0 the first; the text names the query and the document."""
    return Candidates(
        {q: [Hit(f"d{i}", float(n - i), f"{q} passage {i}") for i in range(n)] for q in queries},
        {q: f"query {q}" for q in queries},
    )


def reversed_teacher(n: int = 10, queries: tuple[str, ...] = ("q1", "q2")) -> dict[str, dict[str, float]]:
    """A teacher that ranks the first stage's order upside down (d9 first)."""
    return {q: {f"d{i}": float(i) for i in range(n)} for q in queries}


def test_positives_gap_and_negatives_follow_the_teacher_not_the_first_stage() -> None:
    labels = pseudo_label(cands(), {}, reversed_teacher(), positives=2, gap=3, depth=8)
    row = labels.rows[0]
    assert row["query"] == "query q1"
    assert row["pos"] == ["q1 passage 9", "q1 passage 8"]
    # ranks 3-5 (d7, d6, d5) are the gap; ranks 6-8 (d4, d3, d2) the negatives, in the teacher's order
    assert row["neg"] == ["q1 passage 4", "q1 passage 3", "q1 passage 2"]
    assert labels.stats["queries"] == 2 and labels.stats["groups"] == 4
    assert labels.stats["negatives_per_query"] == {"min": 3, "max": 3, "mean": 3.0}


def test_only_documents_the_teacher_scored_count_and_ties_go_as_in_its_run_file(tmp_path: Path) -> None:
    from rankscope.data.readers import read_trec_run, write_trec_run

    teacher = {"q1": {"d1": 1.0, "d3": 1.0, "d0": 0.5, "d2": 0.1}}
    labels = pseudo_label(cands(), {"q1": "own text"}, teacher, positives=1, gap=0, depth=30)
    assert labels.rows == [
        {
            "query": "own text",
            "pos": ["q1 passage 3"],  # the run file's rank 1 (d3 before d1, as trec_eval orders ties)
            "neg": ["q1 passage 1", "q1 passage 0", "q1 passage 2"],
        }
    ]
    write_trec_run(teacher, tmp_path / "t.trec", tag="t")
    assert next(iter(read_trec_run(tmp_path / "t.trec")["q1"])) == "d3"
    assert labels.stats["queries_not_ranked_by_teacher"] == 1  # q2


def test_a_passage_repeated_under_another_id_counts_once_at_its_best_rank() -> None:
    c = cands()
    c.hits["q1"][3] = Hit("d3", 7.0, "q1 passage 9")  # d3 repeats d9's text; the teacher ranks d9 first
    labels = pseudo_label(c, {}, {"q1": reversed_teacher()["q1"]}, positives=1, gap=1, depth=5)
    row = labels.rows[0]
    assert row["pos"] == ["q1 passage 9"]
    # distinct texts in teacher order: 9, 8, 7, 6, 5 (depth 5); d3's copy of 9 is not a negative
    assert row["neg"] == ["q1 passage 7", "q1 passage 6", "q1 passage 5"]
    assert labels.stats["duplicate_passages_dropped"] == 0  # d3 ranks below the depth
    deep = pseudo_label(c, {}, {"q1": reversed_teacher()["q1"]}, positives=1, gap=1, depth=9)
    assert "q1 passage 9" not in deep.rows[0]["neg"] and len(deep.rows[0]["neg"]) == 7
    assert deep.stats["duplicate_passages_dropped"] == 1


def test_queries_ranked_too_shallow_are_skipped_and_counted() -> None:
    teacher = {"q1": reversed_teacher()["q1"], "q2": {"d0": 1.0, "d1": 0.0}}
    labels = pseudo_label(cands(), {}, teacher, positives=1, gap=1, depth=5)
    assert [r["query"] for r in labels.rows] == ["query q1"]
    assert labels.stats["queries_too_shallow"] == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"positives": 0}, "--positives"),
        ({"gap": -1}, "--gap"),
        ({"positives": 2, "gap": 3, "depth": 5}, "--depth"),
    ],
)
def test_settings_that_leave_no_negatives_are_refused(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(InputError) as err:
        pseudo_label(cands(), {}, reversed_teacher(), **kwargs)
    assert field in str(err.value)


def test_a_teacher_document_outside_the_candidates_is_named() -> None:
    teacher = reversed_teacher()
    teacher["q2"]["d99"] = 5.0
    with pytest.raises(InputError, match="'d99' for query 'q2'") as err:
        pseudo_label(cands(), {}, teacher, teacher_name="teacher.trec")
    assert "teacher.trec" in str(err.value)


def test_a_candidate_without_text_and_a_teacher_of_other_queries_are_refused() -> None:
    c = cands()
    c.hits["q1"][9] = Hit("d9", 1.0, None)
    with pytest.raises(InputError, match="'d9' of query 'q1' has no text"):
        pseudo_label(c, {}, reversed_teacher(), depth=8)
    from_corpus = pseudo_label(
        c, {}, reversed_teacher(), depth=8, corpus={"d9": Document("d9", "the corpus text")}
    )
    assert from_corpus.rows[0]["pos"] == ["the corpus text"]
    with pytest.raises(InputError, match="ranks none of the 2 queries"):
        pseudo_label(cands(), {}, {"other": {"d0": 1.0}})
    with pytest.raises(InputError, match="deep enough"):
        pseudo_label(cands(), {}, {"q1": {"d0": 1.0, "d1": 0.5}}, positives=1, gap=1, depth=5)


def run_cli(*args: str) -> int | None:
    with patch.object(sys, "argv", ["rankscope", *args]), pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code


def write_inputs(tmp_path: Path, teacher_lines: list[str]) -> tuple[list[str], Path]:
    """The query, candidate and teacher files; returns the command's arguments over them and the teacher."""
    queries = tmp_path / "queries.tsv"
    queries.write_text("q1\tquery one\nq2\tquery two\n")
    candidates = tmp_path / "cands.jsonl"
    rows = [
        {
            "qid": q,
            "hits": [{"docid": f"d{i}", "score": 10 - i, "content": f"{q} passage {i}"} for i in range(10)],
        }
        for q in ("q1", "q2")
    ]
    candidates.write_text("".join(json.dumps(r) + "\n" for r in rows))
    teacher = tmp_path / "teacher.trec"
    teacher.write_text("".join(line + "\n" for line in teacher_lines))
    args = [
        "pseudo-label",
        "--queries",
        str(queries),
        "--candidates",
        str(candidates),
        "--teacher",
        str(teacher),
    ]
    return args, teacher


def teacher_run() -> list[str]:
    return [f"{q} Q0 d{i} {10 - i} {i}.0 t" for q in ("q1", "q2") for i in range(10)]


def test_the_command_writes_a_file_that_training_reads(tmp_path: Path, capsys) -> None:
    args, teacher = write_inputs(tmp_path, teacher_run())
    out = tmp_path / "pseudo.jsonl"
    assert run_cli(*args, "--out", str(out), "--gap", "2", "--depth", "9") in (0, None)
    assert "2 queries labelled" in capsys.readouterr().out
    stats = json.loads(stats_path(out).read_text())
    assert stats["queries"] == 2 and stats["gap"] == 2 and stats["teacher"] == str(teacher)
    groups = file_groups(str(out), TrainData(files=[str(out)], group_size=4), 4)
    assert len(groups) == 2
    g = groups[0]
    assert g.query == "query one" and g.docs[0] == "q1 passage 9" and g.labels == (1.0, 0.0, 0.0, 0.0)
    negatives = {f"q1 passage {i}" for i in range(1, 7)}  # teacher ranks 4-9: d6 .. d1
    assert set(g.docs[1:]) <= negatives and set(g.spare) == negatives - set(g.docs[1:])
    # an existing output is kept unless --overwrite
    assert run_cli(*args, "--out", str(out)) == 2
    assert run_cli(*args, "--out", str(out), "--overwrite") in (0, None)
    # the candidates file being read is never the output, --overwrite or not (it was replaced by rows)
    cands = Path(args[args.index("--candidates") + 1])
    before = cands.read_text()
    assert run_cli(*args, "--eval-sets", "", "--out", str(cands), "--overwrite") == 2
    assert "is one of the inputs" in capsys.readouterr().err and cands.read_text() == before


def test_a_gzipped_file_is_named_as_itself_and_a_killed_copy_is_removed(tmp_path: Path) -> None:
    """The rows went through `.tmp-PID-NAME` copies, which no later run recognised as a killed run's (they
    stayed), and the gzip header named the copy."""
    import gzip
    import os

    from rankscope.data.trainfile import write_rows

    out = tmp_path / "train.jsonl.gz"
    dead = killed_copy(out, "abc")  # a killed run's copy
    dead.write_text("half")
    write_rows([{"query": "q", "pos": ["p"], "neg": ["n"]}], {"queries": 1}, out, "pseudo")
    assert sorted(os.listdir(tmp_path)) == ["train.jsonl.gz", "train.pseudo.json"]
    raw = out.read_bytes()
    assert raw[10 : 10 + len(b"train.jsonl")] == b"train.jsonl"  # the header's file name (FNAME)
    assert json.loads(gzip.decompress(raw)) == {"query": "q", "pos": ["p"], "neg": ["n"]}


def test_the_command_refuses_a_bad_teacher_run_and_writes_nothing(tmp_path: Path, capsys) -> None:
    args, _ = write_inputs(tmp_path, [*teacher_run(), "q1 Q0 d42 11 3.0 t"])
    out = tmp_path / "pseudo.jsonl"
    code = run_cli(*args, "--out", str(out))
    assert code == 2
    err = capsys.readouterr().err
    assert "'d42' for query 'q1'" in err
    assert f".trec:{len(teacher_run()) + 1}: teacher run ranks" in err  # the line that ranks it
    assert not out.exists() and not stats_path(out).exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


@pytest.mark.skipif(
    not (data_root() / "trec-dl-2019-passage").is_dir(), reason="the shared data is not present"
)
def test_the_command_refuses_queries_of_an_evaluation_set(tmp_path: Path, capsys) -> None:
    """Pseudo-labels of DL19's queries would be training data on the test set: refused unless the
    evaluation sets are cleared (training refuses the file too, but only when dl19 is in its eval_sets)."""
    args, _ = write_inputs(tmp_path, teacher_run())
    dl19 = load_named("dl19")
    qid, text = next(iter(dl19.queries.items()))
    (tmp_path / "queries.tsv").write_text(f"q1\tquery one\nq2\t{text.upper()}\n")  # DL19's text, other id
    out = tmp_path / "pseudo.jsonl"
    assert run_cli(*args, "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert f"--queries: evaluation query '{qid}' of dl19" in err and "--eval-sets ''" in err
    assert not out.exists() and not stats_path(out).exists()
    assert run_cli(*args, "--out", str(out), "--eval-sets", "") in (0, None)
    assert json.loads(stats_path(out).read_text())["queries"] == 2
