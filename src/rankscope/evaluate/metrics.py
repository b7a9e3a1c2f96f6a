"""IR metrics through ir-measures; a judged query that is missing from the run scores 0.

Evaluating a subset of a collection's queries (`queries=`) restricts the qrels to that subset first, with
one logged warning counting the judged queries left out (`rankscope.data._io.subset_qrels`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import ir_measures
from ir_measures import Measure

from rankscope.data._io import subset_qrels
from rankscope.data.readers import trec_order
from rankscope.data.types import Qrels
from rankscope.errors import InputError

Run = dict[str, dict[str, float]]


def default_measures(qrels: Qrels) -> list[str]:
    """nDCG@10, RR@10 and R@100; on graded qrels such as TREC DL's the binary ones at rel >= 2, as TREC DL
    reports them (trec_eval -l 2)."""
    graded = any(r >= 2 for docs in qrels.values() for r in docs.values())
    return ["nDCG@10", "RR(rel=2)@10", "R(rel=2)@100"] if graded else ["nDCG@10", "RR@10", "R@100"]


def measure_names(measures: Iterable[str] | str | None) -> list[str] | None:
    """Measure names as a list: one name may be given alone ("RR@10", not its letters); None stays None."""
    if measures is None:
        return None
    return [measures] if isinstance(measures, str) else list(measures)


def parse_measures(names: Iterable[str]) -> list[Measure]:
    out = []
    for n in names:
        try:
            out.append(ir_measures.parse_measure(n))
        except Exception as e:  # ir-measures raises several types for bad names
            raise InputError(f"unknown measure '{n}' ({e})", "--measures") from None
    return out


def per_query(run: Run, qrels: Qrels, measures: list[str]) -> dict[str, dict[str, float]]:
    """measure -> query id -> value, over every judged query (0 where the run lacks it).

    Tied scores are ranked as trec_eval and rankscope's run files rank them (doc id descending) for every
    measure: ir-measures computes RR@k with another provider, which breaks ties the other way."""
    parsed = parse_measures(measures)
    qrel_rows = [ir_measures.Qrel(q, d, r) for q, docs in qrels.items() for d, r in docs.items()]
    run_rows = [
        ir_measures.ScoredDoc(q, d, float(len(docs) - i))
        for q, docs in run.items()
        if q in qrels
        for i, (d, _) in enumerate(trec_order(docs, q))
    ]
    table: dict[str, dict[str, float]] = {str(m): dict.fromkeys(qrels, 0.0) for m in parsed}
    for m in ir_measures.iter_calc(parsed, qrel_rows, run_rows):
        table[str(m.measure)][m.query_id] = float(m.value)
    return table


def warn_missing(run: Run, qrels: Qrels, name: object = None) -> None:
    """A warning on the ``rankscope.evaluate`` logger (stderr, as the readers') when judged queries are
    missing from `run`, the run `name`d where given: each scores 0 in the means."""
    judged = [q for q, docs in qrels.items() if docs]
    missing = [q for q in judged if q not in run]
    if not missing:
        return
    note = (
        f"{len(missing)} of the {len(judged)} judged queries are not in the run (e.g. {missing[0]!r}) and "
        "score 0 in every mean: give qrels of the run's queries only to leave them out"
    )
    where = f"{name}: " if name is not None else ""
    logging.getLogger("rankscope.evaluate").warning("%s%s", where, note)


def evaluate(
    run: Run,
    qrels: Qrels,
    measures: Iterable[str] | str | None = None,
    *,
    queries: Iterable[str] | None = None,
    qrels_source: str | Path = "qrels",
) -> dict[str, float]:
    """Mean of each measure over all judged queries, keyed as ir-measures prints the measure.

    With `queries` (the query set evaluated, e.g. a candidates file's), only their judgements count; a
    judged query of the set that is missing from the run still scores 0."""
    if queries is not None:
        qrels = subset_qrels(qrels, queries, qrels_source)
    table = per_query(run, qrels, measure_names(measures) or default_measures(qrels))
    return {m: (sum(v.values()) / len(v) if v else 0.0) for m, v in table.items()}
