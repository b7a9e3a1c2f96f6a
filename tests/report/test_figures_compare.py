"""`delta_strips`: one column per comparison, labelled with its baseline when `compare(pairs=True)` gives
several."""

from __future__ import annotations

import numpy as np

from rankscope.evaluate.compare import compare
from rankscope.report.figures_compare import delta_strips


def _runs() -> tuple[dict, list[dict]]:
    rng = np.random.default_rng(0)
    qrels = {f"q{i}": {f"d{j}": int(rng.integers(0, 2)) for j in range(6)} for i in range(12)}
    runs = [
        {q: {d: s * r + rng.normal() for d, r in docs.items()} for q, docs in qrels.items()}
        for s in (0, 1, 2)
    ]
    return qrels, runs


def test_columns_against_the_baseline() -> None:
    qrels, runs = _runs()
    fig = delta_strips(compare(runs, qrels, ["nDCG@10"], names=["a", "b", "c"], n_boot=50), "nDCG@10")
    ax = fig.axes[0]
    assert [t.get_text().split("\n")[0] for t in ax.get_xticklabels()] == ["b", "c"]
    assert "against a" in ax.get_title() and ax.get_ylabel() == "nDCG@10: run − a"


def test_pairs_name_each_column_baseline() -> None:
    qrels, runs = _runs()
    res = compare(runs, qrels, ["nDCG@10"], names=["a", "b", "c"], n_boot=50, pairs=True)
    ax = delta_strips(res, "nDCG@10").axes[0]
    assert [t.get_text().split("\n")[0] for t in ax.get_xticklabels()] == ["b − a", "c − a", "c − b"]
    assert "between pairs of runs" in ax.get_title() and ax.get_ylabel() == "nDCG@10: run − baseline"
