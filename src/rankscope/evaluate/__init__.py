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
    """Mean of each measure over the judged queries (a judged query missing from the run scores 0, with a
    logged warning saying how many); a run that shares no query with the qrels is refused. A candidates
    file is its own query set, as `rankscope evaluate --candidates` reads it: only its queries' judgements
    count (SciFact's top-20 of 20 queries against the 300 test queries' qrels read 0.05, not 0.75)."""
    from rankscope.evaluate.compare import is_candidates_file, judged_run, load_qrels
    from rankscope.evaluate.metrics import evaluate, warn_missing

    judged = load_qrels(qrels)
    ranking = judged_run(run, judged)
    source = str(qrels) if isinstance(qrels, str | Path) else "qrels"
    if is_candidates_file(run):
        return evaluate(ranking, judged, measures, queries=ranking, qrels_source=source)
    warn_missing(ranking, judged)
    return evaluate(ranking, judged, measures)


def _evaluate() -> Callable[..., Any]:
    return evaluate_run


make_callable(__name__, _evaluate)
