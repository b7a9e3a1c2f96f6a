"""The zero-shot rerank pipeline shared by the CLI, the demo and the benchmarks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rankscope.data.readers import read_candidates
from rankscope.data.registry import load_dataset, load_files
from rankscope.data.types import Candidates, Collection
from rankscope.errors import InputError
from rankscope.evaluate.metrics import Run, evaluate
from rankscope.evaluate.rerank import rerank, rerank_pairwise
from rankscope.models.loading import load_backbone
from rankscope.retrieve.bm25 import bm25_retrieve
from rankscope.runtime import pick_device, pick_dtype
from rankscope.scorers.decoder import PairwiseScorer
from rankscope.scorers.registry import build_for_backbone, get_scorer


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
    """A dataset by name or by files, with its candidates: a named set, a file, or BM25 over the corpus."""
    if dataset:
        coll = load_dataset(dataset)
    elif queries or candidates:
        cand_file = candidates if candidates and Path(candidates).suffix in {".jsonl", ".gz"} else None
        coll = load_files(queries=queries, qrels=qrels, corpus=corpus, candidates=cand_file)
    else:
        raise InputError("give --dataset NAME or the files (--queries/--qrels/--corpus/--candidates)")
    if candidates and candidates in coll.candidates:
        cands = read_candidates(coll.candidates[candidates])
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
    if max_queries:
        keep = sorted(cands.hits)[:max_queries]
        cands = Candidates({q: cands.hits[q] for q in keep}, {q: cands.queries.get(q, "") for q in keep})
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


def run_rerank(
    inputs: Inputs,
    model: str | None,
    scorer: str | None,
    *,
    run_dir: str | Path | None = None,
    adapter: str | Path | None = None,
    depth: int = 100,
    pairwise_top: int = 20,
    device: str = "auto",
    dtype: str = "auto",
    measures: list[str] | None = None,
    show_progress: bool = True,
) -> RerankResult:
    """Load the model (or a trained run's scorer), score the candidates, and evaluate when qrels are known."""
    dev = pick_device(device)
    if run_dir is not None:
        from rankscope.trained import load_run_scorer

        sc, _ = load_run_scorer(run_dir, adapter, device=dev, dtype=pick_dtype(dtype, dev))
    else:
        if model is None or scorer is None:
            raise InputError("give a model and a scorer, or a trained run", "--run")
        kind = get_scorer(scorer).kind
        backbone = load_backbone(model, kind=kind, dtype=pick_dtype(dtype, dev), device=dev)
        sc = build_for_backbone(scorer, backbone)
    coll, cands = inputs.collection, inputs.candidates
    start = time.perf_counter()
    if isinstance(sc, PairwiseScorer):
        run = rerank_pairwise(sc, cands, coll.queries, pairwise_top, depth, coll.corpus, show_progress)
        pairs = sum(min(pairwise_top, len(h)) * (min(pairwise_top, len(h)) - 1) for h in cands.hits.values())
    else:
        run = rerank(sc, cands, coll.queries, depth, coll.corpus, show_progress)
        pairs = sum(len(v) for v in run.values())
    seconds = time.perf_counter() - start
    metrics = evaluate(run, coll.qrels, measures) if coll.qrels else {}
    return RerankResult(run, metrics, seconds, pairs)
