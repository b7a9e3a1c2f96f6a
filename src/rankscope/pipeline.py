"""Inputs (a dataset or files, with candidates) and the rerank-and-evaluate step shared by the CLI,
the demo and the benchmarks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rankscope.data.readers import read_candidates
from rankscope.data.registry import collection_candidates, load_dataset, load_files
from rankscope.data.types import Candidates, Collection
from rankscope.errors import InputError
from rankscope.evaluate.compare import judged_run
from rankscope.evaluate.metrics import Run, evaluate
from rankscope.evaluate.rerank import read_documents, scoring_units
from rankscope.reranker import Reranker
from rankscope.retrieve.bm25 import bm25_retrieve
from rankscope.scorers.budget import DocsCut, documents_cut
from rankscope.scorers.decoder import PairwiseScorer


@dataclass
class Inputs:
    collection: Collection
    candidates: Candidates


def load_inputs(
    dataset: str | None = None,
    candidates: str | None = "bm25",
    *,
    queries: str | None = None,
    qrels: str | None = None,
    corpus: str | None = None,
    depth: int = 100,
    max_queries: int | None = None,
) -> Inputs:
    """A dataset by name or by files, with its candidates: a named set, a file, or BM25 over the corpus;
    `max_queries` keeps the N smallest query ids (sorted as strings) and their judgments."""
    if depth < 1:
        raise InputError(f"the depth must be at least 1, got {depth}", "--depth")
    if max_queries is not None and max_queries < 1:
        raise InputError(f"max_queries must be at least 1 (or None: all), got {max_queries}", "--max-queries")
    if dataset:
        coll = load_dataset(dataset)
    elif queries or candidates:
        cand_file = candidates if candidates and Path(candidates).suffix in {".jsonl", ".gz"} else None
        coll = load_files(queries=queries, qrels=qrels, corpus=corpus, candidates=cand_file)
    else:
        raise InputError("give --dataset NAME or the files (--queries/--qrels/--corpus/--candidates)")
    if candidates and candidates in coll.candidates:
        cands = collection_candidates(coll, candidates)
    elif candidates and Path(candidates).is_file():
        cands = read_candidates(candidates)
    elif candidates in (None, "bm25") and coll.corpus:
        cands = bm25_retrieve(coll.corpus, coll.queries, k=depth)
    else:
        known = ", ".join([*coll.candidates, "bm25" if coll.corpus else ""]).strip(", ")
        raise InputError(
            f"unknown candidates '{candidates}' for {coll.name}: expected {known or 'a file'}", "--candidates"
        )
    cands = cands.truncate(depth)
    if max_queries is not None:
        keep = set(sorted(cands.hits)[:max_queries])
        kept = [q for q in cands.hits if q in keep]  # in the candidates' order, as --stream writes them
        cands = Candidates({q: cands.hits[q] for q in kept}, {q: cands.queries.get(q, "") for q in kept})
        if coll.qrels is not None:  # evaluate the subset on its own queries
            coll.qrels = {q: coll.qrels[q] for q in keep if q in coll.qrels}
    queries_text = {**cands.queries, **coll.queries}
    unknown = [q for q in cands.hits if not queries_text.get(q)]
    if unknown:
        raise InputError(f"candidates name query '{unknown[0]}' that has no text", "--candidates")
    coll.queries = queries_text
    return Inputs(coll, cands)


@dataclass
class RerankResult:
    run: Run
    metrics: dict[str, float]
    seconds: float
    pairs: int
    docs_cut: DocsCut | None = None
    """how many of the reranked documents were longer than the scorer's document budget"""


def run_rerank(
    inputs: Inputs,
    reranker: Reranker,
    *,
    depth: int = 100,
    pairwise_top: int = 20,
    measures: list[str] | None = None,
    show_progress: bool = True,
) -> RerankResult:
    """Score the candidates with an already loaded (zero-shot or fine-tuned) reranker, and evaluate when
    qrels are known."""
    coll, cands = inputs.collection, inputs.candidates
    kept, reranker.pairwise_top = reranker.pairwise_top, pairwise_top
    start = time.perf_counter()
    try:
        run = reranker.rerank_run(cands, coll.queries, depth, coll.corpus, show_progress)
    finally:
        reranker.pairwise_top = kept  # the caller's reranker is left as it was
    top = pairwise_top if isinstance(reranker.scorer, PairwiseScorer) else None
    pairs = scoring_units(cands, depth, top)
    seconds = time.perf_counter() - start
    # every judged query of the collection counts, one without candidates as 0; a run sharing none
    # (another collection's candidates) is refused rather than read as all zeros
    metrics = evaluate(judged_run(run, coll.qrels), coll.qrels, measures) if coll.qrels else {}
    docs = read_documents(cands, coll.queries, depth, coll.corpus, top)
    return RerankResult(run, metrics, seconds, pairs, documents_cut(reranker.scorer, docs))
