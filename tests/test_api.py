"""The top-level API: rankscope.train / evaluate / inspect are callable and still packages; lazy names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import rankscope
from rankscope.errors import InputError
from rankscope.evaluate.metrics import evaluate as metrics_evaluate


def test_import_stays_light() -> None:
    code = "import sys, rankscope; print('torch' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    )


def test_dir_lists_the_lazy_api() -> None:
    assert {"Reranker", "compare", "evaluate", "train"} <= set(dir(rankscope))  # tab completion


def test_importing_the_methods_leaves_the_warning_filters_alone() -> None:
    code = (
        "import warnings, rankscope.methods.lora, rankscope.config;"
        "print(any('is_gradient_checkpointing' in str(f[1]) for f in warnings.filters))"
    )
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert got.stdout.strip() == "False", got.stderr  # a process-wide filter was installed on import


def test_evaluate_is_callable_on_dicts_and_files(tmp_path: Path) -> None:
    run = {"q1": {"d1": 2.0, "d2": 1.0}, "q2": {"d3": 1.0}}
    qrels = {"q1": {"d2": 1}, "q2": {"d3": 1}}
    assert rankscope.evaluate(run, qrels) == metrics_evaluate(run, qrels)
    (tmp_path / "run.trec").write_text("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 1.0 t\nq2 Q0 d3 1 1.0 t\n")
    (tmp_path / "qrels.txt").write_text("q1 0 d2 1\nq2 0 d3 1\n")
    assert rankscope.evaluate(tmp_path / "run.trec", tmp_path / "qrels.txt", ["RR@10"]) == {"RR@10": 0.75}
    assert callable(rankscope.evaluate) and rankscope.evaluate.metrics.evaluate is metrics_evaluate


def test_evaluate_takes_one_measure_name_as_a_string() -> None:
    run, qrels = {"q": {"a": 1.0, "b": 2.0}}, {"q": {"a": 1}}
    assert rankscope.evaluate(run, qrels, "RR@10") == {"RR@10": 0.5}  # split into characters before
    other = {"q": {"a": 2.0, "b": 1.0}}
    (c,) = rankscope.compare([run, other], qrels, "RR@10").comparisons  # "unknown measure '@'" before
    assert (c.measure, c.mean_baseline, c.mean_run) == ("RR@10", 0.5, 1.0)


def test_train_and_inspect_dispatch(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such spec file"):
        rankscope.train(tmp_path / "missing.yaml", tmp_path / "run")
    with pytest.raises(InputError, match="no spec.yaml|not a training run"):
        rankscope.inspect(tmp_path)
    assert rankscope.compare.__module__ == "rankscope.evaluate.compare"
    assert rankscope.power_table.__module__ == "rankscope.evaluate.power"
    assert rankscope.Reranker.__name__ == "Reranker"
    with pytest.raises(AttributeError):
        _ = rankscope.no_such_name  # type: ignore[attr-defined]


def test_a_split_hands_out_only_its_own_candidates() -> None:
    train, dev = rankscope.load_dataset("msmarco-dev600-train"), rankscope.load_dataset("msmarco-dev600-dev")
    assert train.candidates["bm25"] == dev.candidates["bm25"]  # one file serves both parts
    t, d = rankscope.load_candidates(train, "bm25"), rankscope.load_candidates(dev, "bm25")
    assert (len(t.hits), len(d.hits)) == (461, 139) and not set(t.hits) & set(d.hits)  # the file: 600
    assert len(rankscope.load_candidates(train.candidates["bm25"]).hits) == 600  # a file is read whole


def test_evaluate_reads_a_candidates_file_as_the_cli_does(tmp_path: Path, caplog) -> None:
    """A candidates file is its own query set (the CLI's --candidates); a run missing judged queries is
    said to be. The API scored the missing queries 0 without a word (0.05 against the CLI's 0.75)."""
    import json
    import logging

    rows = [
        {"qid": "q1", "query": "flea", "hits": [{"docid": "a", "score": 2.0}, {"docid": "b", "score": 1.0}]}
    ]
    cands = tmp_path / "c.jsonl"
    cands.write_text("".join(json.dumps(r) + "\n" for r in rows))
    qrels = {"q1": {"a": 1}, "q2": {"x": 1}, "q3": {"y": 1}}
    assert rankscope.evaluate(cands, qrels, "RR@10") == {"RR@10": 1.0}
    with caplog.at_level(logging.WARNING, logger="rankscope.evaluate"):
        assert rankscope.evaluate({"q1": {"a": 1.0}}, qrels, "RR@10")["RR@10"] == pytest.approx(1 / 3)
    assert "2 of the 3 judged queries are not in the run" in caplog.text
    # a candidates file of another name is read as one when told (the CLI's --candidates reads any name;
    # the API told them apart by name only, so the two could not be one code path)
    other = tmp_path / "bm25.top20"
    other.write_text(cands.read_text())
    assert rankscope.evaluate(other, qrels, "RR@10", candidates=True) == {"RR@10": 1.0}
    with pytest.raises(InputError, match="bm25.top20"):  # read as a TREC run by default
        rankscope.evaluate(other, qrels, "RR@10")
    trec = tmp_path / "run.jsonl"  # and a TREC run whatever its name, when told
    trec.write_text("q1 Q0 b 1 2.0 t\nq1 Q0 a 2 1.0 t\n")
    with caplog.at_level(logging.WARNING, logger="rankscope.evaluate"):
        assert rankscope.evaluate(trec, qrels, "RR@10", candidates=False)["RR@10"] == pytest.approx(1 / 6)
    assert f"{trec}: 2 of the 3 judged queries" in caplog.text  # the file named
