"""The zero-shot rerank pipeline shared by the CLI, the demo and the benchmarks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from rankscope.data.readers import read_candidates
from rankscope.data.registry import load_dataset, load_files
from rankscope.data.types import Candidates, Collection
from rankscope.errors import InputError
from rankscope.evaluate.metrics import Run, evaluate
from rankscope.evaluate.rerank import rerank, rerank_pairwise
from rankscope.models.loading import load_backbone
from rankscope.retrieve.bm25 import bm25_retrieve
from rankscope.scorers.decoder import PairwiseScorer
from rankscope.scorers.registry import ENCODER_SCORERS, build_scorer, check_scorer


@dataclass
class Inputs:
    collection: Collection
    candidates: Candidates


def pick_device(device: str = "auto") -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("CUDA is not available on this machine", "--device")
    return device


def cpu_has_bf16() -> bool:
    """True where the CPU has native bf16 matrix instructions (AVX512-BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_dtype(dtype: str, device: str) -> torch.dtype:
    """ "auto": bf16 on CUDA and on CPUs with native bf16, float32 elsewhere."""
    choices = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") or cpu_has_bf16() else torch.float32
    if dtype not in choices:
        raise InputError(f"unknown dtype '{dtype}': expected auto, {', '.join(choices)}", "--dtype")
    return choices[dtype]


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
        from rankscope.train.export import load_run_scorer

        sc, _ = load_run_scorer(run_dir, adapter, device=dev, dtype=pick_dtype(dtype, dev))
    else:
        if model is None or scorer is None:
            raise InputError("give a model and a scorer, or a trained run", "--run")
        check_scorer(scorer)
        kind = "encoder" if scorer in ENCODER_SCORERS else "causal"
        backbone = load_backbone(model, kind=kind, dtype=pick_dtype(dtype, dev), device=dev)
        sc = build_scorer(scorer, backbone)
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
