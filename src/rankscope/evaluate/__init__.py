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
    *,
    candidates: bool | None = None,
) -> dict[str, float]:
    """Mean of each measure over the judged queries (a judged query missing from the run scores 0, with a
    logged warning saying how many); a run that shares no query with the qrels is refused. A candidates
    file is its own query set: only its queries' judgements count (SciFact's top-20 of 20 queries against
    the 300 test queries' qrels read 0.05, not 0.75). A file is read as candidates when `candidates` is
    True (`rankscope evaluate --candidates`), as a TREC run when False, and by its name (.jsonl(.gz):
    candidates) when None."""
    from rankscope.evaluate.compare import is_candidates_file, judged_run, load_qrels
    from rankscope.evaluate.metrics import evaluate, warn_missing

    judged = load_qrels(qrels)
    ranking = judged_run(run, judged, candidates)
    source = str(qrels) if isinstance(qrels, str | Path) else "qrels"
    if is_candidates_file(run, candidates):
        return evaluate(ranking, judged, measures, queries=ranking, qrels_source=source)
    warn_missing(ranking, judged, run if isinstance(run, str | Path) else None)
    return evaluate(ranking, judged, measures)


def _evaluate() -> Callable[..., Any]:
    return evaluate_run


make_callable(__name__, _evaluate)
