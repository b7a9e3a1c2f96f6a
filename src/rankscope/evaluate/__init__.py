"""Evaluation: batched reranking, IR metrics (ir-measures), paired comparisons and fusion.

`rankscope.evaluate(run, qrels, measures=None)` scores a run (a {qid: {docid: score}} dict, a TREC run
file or a candidates file) against qrels (a dict or a qrels file): mean value per measure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rankscope._callable import make_callable


def evaluate_run(
    run: dict[str, dict[str, float]] | str | Path,
    qrels: dict[str, dict[str, int]] | str | Path,
    measures: Sequence[str] | str | None = None,
) -> dict[str, float]:
    """Mean of each measure over the judged queries (a judged query missing from the run scores 0); a run
    that shares no query with the qrels is refused."""
    from rankscope.evaluate.compare import judged_run, load_qrels
    from rankscope.evaluate.metrics import evaluate

    judged = load_qrels(qrels)
    return evaluate(judged_run(run, judged), judged, measures)


def _evaluate() -> Callable[..., Any]:
    return evaluate_run


make_callable(__name__, _evaluate)
