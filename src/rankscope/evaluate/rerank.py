"""Batched reranking of candidate lists with any scorer, with a progress bar."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rankscope.data.types import Candidates, Document
from rankscope.errors import InputError
from rankscope.evaluate.metrics import Run
from rankscope.progress import progress_bar
from rankscope.scorers.base import Pair, Scorer
from rankscope.scorers.decoder import PairwiseScorer


def candidate_pairs(
    candidates: Candidates,
    queries: dict[str, str],
    depth: int,
    corpus: dict[str, Document] | None = None,
) -> list[tuple[str, str, Pair]]:
    """(query id, doc id, pair) for the top `depth` hits of each query, text from the hit or the corpus."""
    rows = []
    for qid, hits in candidates.hits.items():
        query = queries.get(qid) or candidates.queries.get(qid)
        if not query:
            raise InputError(f"candidates name query '{qid}', which has no text in the queries")
        for hit in hits[:depth]:
            text = hit.text
            if text is None and corpus is not None and hit.doc_id in corpus:
                text = corpus[hit.doc_id].full_text
            if not text:
                raise InputError(
                    f"document '{hit.doc_id}' (query '{qid}') has no text in the candidates or corpus"
                )
            rows.append((qid, hit.doc_id, Pair(query, text)))
    return rows


def read_documents(
    candidates: Candidates,
    queries: dict[str, str],
    depth: int,
    corpus: dict[str, Document] | None = None,
    pairwise_top: int | None = None,
) -> Iterator[str]:
    """The document texts a reranking reads: each query's top `depth`, or with `pairwise_top` its top
    min(depth, pairwise_top), which is all `rerank_pairwise` compares."""
    read = depth if pairwise_top is None else min(depth, pairwise_top)
    return (p.doc for _, _, p in candidate_pairs(candidates, queries, read, corpus))


def scoring_units(candidates: Candidates, depth: int, pairwise_top: int | None = None) -> int:
    """How many scorer calls a reranking makes: the pairs `rerank` scores (each query's top `depth`), or
    with `pairwise_top` the ordered comparisons `rerank_pairwise` makes (what `advance` counts)."""
    sizes = [min(depth, len(hits)) for hits in candidates.hits.values()]
    if pairwise_top is None:
        return sum(sizes)
    return sum(k * (k - 1) for k in (min(pairwise_top, n) for n in sizes))


@contextmanager
def _progress(
    label: str, total: int, show: bool, advance: Callable[[int], None] | None
) -> Iterator[Callable[[int], None]]:
    """`advance` when the caller counts progress itself, else a progress bar of its own."""
    if advance is not None:
        yield advance
        return
    with progress_bar(label, total, show) as step:
        yield step


def rerank(
    scorer: Scorer,
    candidates: Candidates,
    queries: dict[str, str],
    depth: int = 100,
    corpus: dict[str, Document] | None = None,
    show_progress: bool = True,
    advance: Callable[[int], None] | None = None,
) -> Run:
    """Score the top `depth` candidates of every query; returns query id -> doc id -> score. `advance(n)`,
    when given, is told of each `n` pairs scored instead of a progress bar."""
    rows = candidate_pairs(candidates, queries, depth, corpus)
    pairs = [p for _, _, p in rows]
    with _progress(f"scoring ({scorer.name})", len(pairs), show_progress, advance) as step:
        scores = scorer.score(pairs, step)
    run: Run = {}
    for (qid, did, _), s in zip(rows, scores, strict=True):
        run.setdefault(qid, {})[did] = s
    return run


def rerank_pairwise(
    scorer: PairwiseScorer,
    candidates: Candidates,
    queries: dict[str, str],
    top_k: int = 20,
    depth: int = 100,
    corpus: dict[str, Document] | None = None,
    show_progress: bool = True,
    advance: Callable[[int], None] | None = None,
) -> Run:
    """duoT5-style: every ordered pair of the top k in both orders; s_i = sum_j p(i>j) + (1 - p(j>i)).

    The top k are ordered by s_i above the rest, which keep their first-stage order. `advance(n)`, when
    given, is told of each `n` comparisons instead of a progress bar."""
    rows = candidate_pairs(candidates, queries, depth, corpus)
    by_query: dict[str, list[tuple[str, Pair]]] = {}
    for qid, did, pair in rows:
        by_query.setdefault(qid, []).append((did, pair))
    triples, keys = [], []
    for qid, items in by_query.items():
        top = items[:top_k]
        for i, (_, pi) in enumerate(top):
            for j, (_, pj) in enumerate(top):
                if i != j:
                    triples.append((pi.query, pi.doc, pj.doc))
                    keys.append((qid, i, j))
    with _progress("scoring (pairwise)", len(triples), show_progress, advance) as step:
        probs = scorer.prefer(triples, step)
    agg: dict[str, list[float]] = {q: [0.0] * min(top_k, len(v)) for q, v in by_query.items()}
    for (qid, i, j), p in zip(keys, probs, strict=True):
        agg[qid][i] += p
        agg[qid][j] += 1.0 - p
    run: Run = {}
    for qid, items in by_query.items():
        n = len(items)
        run[qid] = {did: float(n - r) for r, (did, _) in enumerate(items)}  # first-stage order below
        for i, s in enumerate(agg[qid]):
            run[qid][items[i][0]] = n + 1.0 + s
    return run
