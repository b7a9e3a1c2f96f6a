"""Reranking a candidates file query by query (`rankscope rerank --stream`): memory bounded by one chunk
of queries, whatever the file's size. The run file is written as it goes, and the metrics are the same
means over judged queries that `evaluate` gives, summed chunk by chunk."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankscope.data._io import open_write
from rankscope.data.readers import iter_candidates, write_trec_rows
from rankscope.data.types import Candidates, Document, Hit, Qrels
from rankscope.errors import InputError
from rankscope.evaluate.metrics import default_measures, parse_measures, per_query
from rankscope.evaluate.rerank import read_documents, scoring_units
from rankscope.scorers.budget import CutCounter, DocsCut
from rankscope.scorers.decoder import PairwiseScorer

CHUNK = 256
"""queries reranked (and held in memory) at a time."""


@dataclass
class StreamResult:
    metrics: dict[str, float]
    seconds: float
    pairs: int
    queries: int
    docs_cut: DocsCut | None = None
    """how many of the documents read were longer than the scorer's document budget"""


def kept_queries(path: str | Path, max_queries: int, only: AbstractSet[str] | None = None) -> set[str]:
    """The query ids `--max-queries N` keeps, as the whole-file path does: the N smallest (as strings),
    of `only` where given. One extra pass over the file, holding only the ids."""
    ids = (qid for qid, _, _ in iter_candidates(path) if only is None or qid in only)
    return set(heapq.nsmallest(max_queries, ids))


def chunks(
    path: str | Path,
    depth: int,
    size: int,
    max_queries: int | None = None,
    only: AbstractSet[str] | None = None,
) -> Iterator[Candidates]:
    """The candidates file as Candidates of `size` queries at a time, each list cut to `depth`; only the
    queries of `only` where given (a dataset's own: its file may hold another split's too), and with
    `max_queries` only the N smallest query ids of those, in file order."""
    rows: Iterator[tuple[str, str | None, list[Hit]]] = iter_candidates(path)
    if only is not None:
        rows = (row for row in rows if row[0] in only)
    if max_queries:
        keep = kept_queries(path, max_queries, only)
        rows = (row for row in rows if row[0] in keep)
    while batch := list(itertools.islice(rows, size)):
        cands = Candidates()
        for qid, query, hits in batch:
            cands.hits[qid] = hits[:depth]
            if query is not None:
                cands.queries[qid] = query
        yield cands


def stream_rerank(
    reranker: Any,
    candidates: str | Path,
    out: str | Path,
    *,
    queries: Mapping[str, str] | None = None,
    qrels: Qrels | None = None,
    corpus: Mapping[str, Document] | None = None,
    depth: int = 100,
    measures: list[str] | None = None,
    tag: str = "rankscope",
    chunk: int | None = None,
    max_queries: int | None = None,
    judged_seen_only: bool = False,
    only: AbstractSet[str] | None = None,
) -> StreamResult:
    """Rerank `candidates` (a file) `chunk` queries at a time with a loaded rankscope.Reranker, writing
    the run to `out` as it goes; metrics are means over the judged queries of `qrels` (0 for one not
    reranked), or with `judged_seen_only` or `max_queries` over the judged queries reranked, as `rerank`
    evaluates when the query texts come from the candidates file or it keeps N queries. `only`: the
    queries to rerank, the others in the file skipped (a dataset's own, as `rerank` reads its set)."""
    texts = dict(queries or {})
    docs = dict(corpus) if corpus is not None else None
    measures = (measures or default_measures(qrels)) if qrels else []
    sums: dict[str, float] = {}
    pairs, n_queries, n_judged, seconds = 0, 0, 0, 0.0
    top = reranker.pairwise_top if isinstance(reranker.scorer, PairwiseScorer) else None
    counter = CutCounter(reranker.scorer)
    with open_write(out) as f:
        for cands in chunks(candidates, depth, chunk or CHUNK, max_queries, only):
            missing = next((q for q in cands.hits if not (texts.get(q) or cands.queries.get(q))), None)
            if missing is not None:
                raise InputError(f"candidates name query '{missing}' that has no text", "--candidates")
            start = time.perf_counter()
            run = reranker.rerank_run(cands, texts, depth, docs, False)
            seconds += time.perf_counter() - start
            pairs += scoring_units(cands, depth, top)
            counter.add(read_documents(cands, texts, depth, docs, top))
            n_queries += len(run)
            write_trec_rows(f, run, tag, out)
            # every query read counts, one with no candidates (absent from the run) as 0
            judged = {q: qrels[q] for q in cands.hits if q in qrels} if qrels else {}
            n_judged += len(judged)
            if judged:
                for m, values in per_query(run, judged, measures).items():
                    sums[m] = sums.get(m, 0.0) + sum(values.values())
    if qrels and n_queries and not n_judged:  # another collection's run: all zeros, as a result
        first = next(iter(qrels), None)
        raise InputError(f"shares no query with the qrels (the qrels' first query is {first!r})", candidates)
    total = n_judged if judged_seen_only or max_queries else len(qrels or {})
    names = [str(m) for m in parse_measures(measures)]  # the keys `evaluate` gives
    metrics = {m: sums.get(m, 0.0) / total for m in names} if total else {}
    return StreamResult(metrics, seconds, pairs, n_queries, counter.result())
