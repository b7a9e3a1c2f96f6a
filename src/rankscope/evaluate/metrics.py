"""IR metrics through ir-measures; a judged query that is missing from the run scores 0."""

from __future__ import annotations

from collections.abc import Iterable

import ir_measures
from ir_measures import Measure

from rankscope.data.types import Qrels
from rankscope.errors import InputError

Run = dict[str, dict[str, float]]


def default_measures(qrels: Qrels) -> list[str]:
    """nDCG@10, RR@10 (at rel>=2 on graded qrels such as TREC DL) and R@100."""
    graded = any(r >= 2 for docs in qrels.values() for r in docs.values())
    return ["nDCG@10", "RR(rel=2)@10" if graded else "RR@10", "R@100"]


def parse_measures(names: Iterable[str]) -> list[Measure]:
    out = []
    for n in names:
        try:
            out.append(ir_measures.parse_measure(n))
        except Exception as e:  # ir-measures raises several types for bad names
            raise InputError(f"unknown measure '{n}' ({e})", "--measures") from None
    return out


def per_query(run: Run, qrels: Qrels, measures: list[str]) -> dict[str, dict[str, float]]:
    """measure -> query id -> value, over every judged query (0 where the run lacks it)."""
    parsed = parse_measures(measures)
    qrel_rows = [ir_measures.Qrel(q, d, r) for q, docs in qrels.items() for d, r in docs.items()]
    run_rows = [
        ir_measures.ScoredDoc(q, d, s) for q, docs in run.items() if q in qrels for d, s in docs.items()
    ]
    table: dict[str, dict[str, float]] = {str(m): dict.fromkeys(qrels, 0.0) for m in parsed}
    for m in ir_measures.iter_calc(parsed, qrel_rows, run_rows):
        table[str(m.measure)][m.query_id] = float(m.value)
    return table


def evaluate(run: Run, qrels: Qrels, measures: list[str] | None = None) -> dict[str, float]:
    """Mean of each measure over all judged queries, keyed as ir-measures prints the measure."""
    measures = measures or default_measures(qrels)
    table = per_query(run, qrels, measures)
    return {m: (sum(v.values()) / len(v) if v else 0.0) for m, v in table.items()}
