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


def test_evaluate_is_callable_on_dicts_and_files(tmp_path: Path) -> None:
    run = {"q1": {"d1": 2.0, "d2": 1.0}, "q2": {"d3": 1.0}}
    qrels = {"q1": {"d2": 1}, "q2": {"d3": 1}}
    assert rankscope.evaluate(run, qrels) == metrics_evaluate(run, qrels)
    (tmp_path / "run.trec").write_text("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 1.0 t\nq2 Q0 d3 1 1.0 t\n")
    (tmp_path / "qrels.txt").write_text("q1 0 d2 1\nq2 0 d3 1\n")
    assert rankscope.evaluate(tmp_path / "run.trec", tmp_path / "qrels.txt", ["RR@10"]) == {"RR@10": 0.75}
    assert callable(rankscope.evaluate) and rankscope.evaluate.metrics.evaluate is metrics_evaluate


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
