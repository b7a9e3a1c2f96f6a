"""Scoring with a trained LoRA run: its adapters as `rerank --run` uses them against the base model alone.

`rerank --run RUN` scores through PEFT's LoRA layers, adapters unmerged (each targeted linear runs the base
weights, then the adapter's two small matmuls in the adapter's own dtype, float32, and adds them). The
named baseline is the same scorer with the adapters disabled, i.e. the base model zero-shot (the cost
floor of this model and token budget). Two ways to remove the overhead are timed on the same pairs:
- merged: PEFT's `merge_adapter()` (W + scale * B A written into the base weights, as `export` and
  `rerank --run --merge` do);
- adapters in the model's dtype: lora_A / lora_B cast to the base weights' dtype (bf16 where the CPU has
  native bf16), so no float32 round trip per layer.
Each prints pairs/s and its ratio to the baseline, and how far its scores are from the unmerged ones
(max |difference| and Spearman): they change the arithmetic, so readings scored one way are not
bit-for-bit those scored another.

    .venv/bin/python bench/adapter_scoring.py RUN [--pairs 256]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import torch
from scipy.stats import spearmanr

from rankscope.data.readers import read_candidates
from rankscope.data.registry import load_dataset
from rankscope.reranker import Reranker
from rankscope.runtime import cpu_vector_isa
from rankscope.scorers.base import Pair


def timed(score: Callable[[list[Pair]], list[float]], pairs: list[Pair]) -> tuple[list[float], float]:
    score(pairs[:8])  # warm-up
    t0 = time.perf_counter()
    out = score(pairs)
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="a training run folder with LoRA adapters (rankscope train --out)")
    ap.add_argument("--pairs", type=int, default=256)
    args = ap.parse_args()
    coll = load_dataset("dl19")
    cands = read_candidates(coll.candidates["bm25"])
    pairs = [Pair(coll.queries[q], h.text or "") for q, hits in cands.hits.items() for h in hits]
    pairs = pairs[:: max(1, len(pairs) // args.pairs)][: args.pairs]  # a spread of queries and ranks
    reranker = Reranker.from_run(args.run)
    scorer = reranker.scorer
    model = scorer.model
    if not hasattr(model, "merge_adapter"):
        raise SystemExit(f"{args.run}: not a LoRA run (its model has no PEFT adapters)")
    unmerged, t_unmerged = timed(scorer.score, pairs)
    with model.disable_adapter():
        _, t_base = timed(scorer.score, pairs)
    model.merge_adapter()
    merged, t_merged = timed(scorer.score, pairs)
    model.unmerge_adapter()
    base_dtype = next(p.dtype for n, p in model.named_parameters() if "lora_" not in n)
    adapter_dtype = next(p.dtype for n, p in model.named_parameters() if "lora_" in n)
    for name, module in model.named_modules():
        if name.endswith(("lora_A", "lora_B")):
            module.to(base_dtype)
    cast, t_cast = timed(scorer.score, pairs)
    n = len(pairs)
    print(
        f"machine: {platform.machine()} {cpu_vector_isa()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}; run {args.run}; {n} DL19 pairs; base weights {base_dtype}, "
        f"adapters {adapter_dtype}"
    )
    print(f"baseline, base model (adapters disabled): {n / t_base:.1f} pairs/s")
    for label, t, scores in (
        ("adapters unmerged (rerank --run, the default)", t_unmerged, None),
        ("adapters merged into the weights", t_merged, merged),
        (f"adapters cast to {base_dtype}", t_cast, cast),
    ):
        line = f"{label}: {n / t:.1f} pairs/s, {t / t_base:.2f}x the baseline's time"
        if scores is not None:
            diff = max(abs(a - b) for a, b in zip(unmerged, scores, strict=True))
            rho = spearmanr(unmerged, scores).statistic
            line += f"; scores vs unmerged: max |diff| {diff:.4f}, Spearman {rho:.4f}"
        print(line)


if __name__ == "__main__":
    main()
