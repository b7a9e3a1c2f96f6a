"""Evaluating a subset of the queries against full official qrels: skipped with one warning, not refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from rankscope.data._io import subset_qrels
from rankscope.errors import InputError
from rankscope.evaluate.metrics import evaluate

QRELS = {"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d3": 1}, "q4": {"d1": 1}}


def test_subset_qrels_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="rankscope.data"):
        kept = subset_qrels(QRELS, ["q1", "q2", "q9"], "qrels.txt")
    assert kept == {"q1": {"d1": 1}, "q2": {"d2": 1}}
    assert len(caplog.records) == 1
    msg = caplog.records[0].getMessage()
    assert "qrels.txt" in msg and "2 queries" in msg and "among the 3 queries" in msg


def test_subset_qrels_no_warning_when_all_kept(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="rankscope.data"):
        assert subset_qrels(QRELS, QRELS, "q") == QRELS
    assert not caplog.records


def test_subset_qrels_none_judged_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "qrels.txt"
    path.write_text("q1 0 d1 1\n")
    with pytest.raises(InputError, match=r"qrels.txt:1: the qrels judge none of the 2 queries"):
        subset_qrels({"q1": {"d1": 1}}, ["x", "y"], path)


def test_evaluate_on_a_subset(caplog: pytest.LogCaptureFixture) -> None:
    run = {"q1": {"d1": 2.0, "d9": 1.0}, "q2": {"d9": 1.0, "d2": 0.5}}
    # Against the full qrels q3 and q4 score 0 (missing from the run); on the subset they do not count.
    assert evaluate(run, QRELS, ["RR@10"]) == {"RR@10": pytest.approx((1 + 0.5) / 4)}
    with caplog.at_level("WARNING", logger="rankscope.data"):
        got = evaluate(run, QRELS, ["RR@10"], queries=run, qrels_source="dev.qrels")
    assert got == {"RR@10": pytest.approx((1 + 0.5) / 2)}
    assert len(caplog.records) == 1 and "dev.qrels" in caplog.records[0].getMessage()
    # A judged query of the subset missing from the run still scores 0.
    assert evaluate(run, QRELS, ["RR@10"], queries=["q1", "q3"]) == {"RR@10": pytest.approx(0.5)}
    with pytest.raises(InputError, match="judge none"):
        evaluate(run, QRELS, ["RR@10"], queries=["zz"])
