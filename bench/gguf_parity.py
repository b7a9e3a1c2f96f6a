"""GGUF export parity on a real model: SmolLM2 written as f16 and q8_0 GGUF, read back by transformers.

The torch model (float32) and each GGUF file (loaded with transformers' GGUF loader, de-quantized to
float32) score the same DL19 BM25 top-N pairs with the same scorer; prints max |score diff|, Spearman,
the share of pairs tokenised identically, nDCG@10 of both rankings and the scoring speed of both (the
GGUF is de-quantized, so the same torch path runs: speed should match), file size and write time; where
llama-cpp-python is installed, the same for llama.cpp itself reading each file.

    .venv/bin/python bench/gguf_parity.py [--queries 4 --depth 20 --scorer yes-no]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from scipy.stats import spearmanr

from rankscope import llamacpp
from rankscope.data.readers import read_candidates
from rankscope.data.registry import load_dataset
from rankscope.evaluate.metrics import evaluate
from rankscope.export_gguf import LLAMA_CPP_TOLERANCE, TOLERANCE, load_gguf, write_gguf
from rankscope.models.loading import load_backbone
from rankscope.scorers.base import Pair, Scorer
from rankscope.scorers.registry import build_scorer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--scorer", default="yes-no")
    ap.add_argument("--queries", type=int, default=4)
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--quants", default="f16,q8_0")
    args = ap.parse_args()
    coll = load_dataset("dl19")
    cands = read_candidates(coll.candidates["bm25"])
    qids = sorted(cands.hits)[: args.queries]
    keys = [(q, h.doc_id) for q in qids for h in cands.hits[q][: args.depth]]
    pairs = [Pair(coll.queries[q], h.text or "") for q in qids for h in cands.hits[q][: args.depth]]
    qrels = {q: coll.qrels[q] for q in qids}

    def ndcg(scores: list[float]) -> float:
        run: dict[str, dict[str, float]] = {}
        for (q, d), s in zip(keys, scores, strict=True):
            run.setdefault(q, {})[d] = s
        return evaluate(run, qrels, ["nDCG@10"])["nDCG@10"]

    def timed(scorer: Scorer) -> tuple[list[float], float]:
        """`scorer`'s scores of the pairs and its pairs/s (after a warm-up)."""
        scorer.score(pairs[:4])
        t0 = time.perf_counter()
        scores = scorer.score(pairs)
        return scores, len(pairs) / (time.perf_counter() - t0)

    def agreement(base: list[float], scores: list[float]) -> str:
        """How `scores` agree with torch's float32 `base`: max |diff|, Spearman, nDCG@10 and its change."""
        diff = max(abs(a - b) for a, b in zip(base, scores, strict=True))
        rho = spearmanr(base, scores).statistic
        ours, theirs = ndcg(base), ndcg(scores)
        return f"max |diff| {diff:.2e}, Spearman {rho:.4f}, nDCG@10 {theirs:.4f} ({theirs - ours:+.4f})"

    bb = load_backbone(args.model, kind="causal", dtype=torch.float32)
    ref = build_scorer(args.scorer, bb.model, bb.tokenizer)
    n = len(pairs)
    base, rate = timed(ref)
    print(f"pairs: {n} ({args.queries} DL19 queries x BM25 top-{args.depth}), {args.model}, {args.scorer}")
    print(f"torch float32: {rate:6.1f} pairs/s, nDCG@10 {ndcg(base):.4f}")
    with tempfile.TemporaryDirectory() as tmp:
        for quant in args.quants.split(","):
            t0 = time.perf_counter()
            path = write_gguf(bb.model, bb.tokenizer, Path(tmp) / f"model-{quant}.gguf", quant)
            t_write = time.perf_counter() - t0
            t0 = time.perf_counter()
            model, tok = load_gguf(path)
            t_load = time.perf_counter() - t0
            copy = build_scorer(args.scorer, model, tok)
            ours, rate = timed(copy)
            enc_a, enc_b = ref.encode(pairs), copy.encode(pairs)  # type: ignore[attr-defined]
            if isinstance(enc_a, tuple):
                enc_a, enc_b = enc_a[0], enc_b[0]
            same = sum(a == b for a, b in zip(enc_a, enc_b, strict=True)) / n
            print(
                f"gguf {quant}: {path.stat().st_size / 2**20:6.1f} MiB (written in {t_write:.0f}s, loaded in "
                f"{t_load:.0f}s), {rate:6.1f} pairs/s, {agreement(base, ours)}, same tokens {same:.2f}; "
                f"tolerance {TOLERANCE[quant]}"
            )
            del model, copy
            if llamacpp.available():  # the optional extra: llama.cpp itself on the same file
                served_by = llamacpp.LlamaCppScorer(path, ref, threads=torch.get_num_threads())
                served, rate = timed(served_by)
                served_by.close()
                print(
                    f"llama.cpp {quant}: {rate:6.1f} pairs/s ({torch.get_num_threads()} threads, a pair at a "
                    f"time), {agreement(base, served)}; tolerance {LLAMA_CPP_TOLERANCE[quant]}"
                )


if __name__ == "__main__":
    main()
