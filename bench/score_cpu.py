"""SmolLM2 yes/no scoring speed: rankscope's scorer against a plain transformers loop, same DL19 pairs.

Baseline ("plain loop"): per pair, the chat template is formatted and tokenised as a string; batches of 16
in file order are padded and run through the full causal LM, whose logits are computed at every position
over the whole vocabulary; the yes/no logits are read at each row's last real token.
rankscope: cached template tokens, length-sorted batches, only the yes/no rows of the LM head at the last
position, and bf16 weights where the CPU has native bf16 (`--dtype auto`, the rerank default).
The named baseline is the plain loop in float32 (what transformers does by default); the plain loop is
also timed in bf16 so the ratio from the pipeline alone is visible. Prints pairs/s of each, the ratios,
and how far the scores are from the baseline's (max difference in fp32, Spearman in bf16).

    .venv/bin/python bench/score_cpu.py [--pairs 192]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from scipy.stats import spearmanr

from rankscope.data.readers import read_candidates
from rankscope.data.registry import load_dataset
from rankscope.models.loading import load_backbone
from rankscope.runtime import pick_dtype
from rankscope.scorers.base import Pair
from rankscope.scorers.decoder import YesNoScorer
from rankscope.scorers.prompts import YES_NO


def plain_loop(model, tok, pairs: list[Pair], yes: list[int], no: list[int], batch: int = 16) -> list[float]:
    out: list[float] = []
    with torch.no_grad():
        for i in range(0, len(pairs), batch):
            texts = [
                tok.apply_chat_template(
                    [{"role": "user", "content": YES_NO.format(query=p.query, doc=p.doc)}],
                    tokenize=False,
                    add_generation_prompt=True,
                )
                for p in pairs[i : i + batch]
            ]
            enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            logits = model(**enc).logits  # (batch, seq, vocab): every position, whole vocabulary
            last = enc["attention_mask"].sum(1) - 1
            z = logits[torch.arange(len(texts)), last]
            out += (torch.logsumexp(z[:, yes], 1) - torch.logsumexp(z[:, no], 1)).tolist()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=192)
    ap.add_argument("--model", default="smollm2-135m")
    args = ap.parse_args()
    torch.manual_seed(0)
    coll = load_dataset("dl19")
    cands = read_candidates(coll.candidates["bm25"])
    pairs = [Pair(coll.queries[q], h.text or "") for q, hits in cands.hits.items() for h in hits]
    # a spread of queries and ranks, same pairs for both
    pairs = pairs[:: max(1, len(pairs) // args.pairs)][: args.pairs]
    bb = load_backbone(args.model, kind="causal", dtype=torch.float32)
    scorer = YesNoScorer(bb.model, bb.tokenizer)
    # the baseline truncates nothing: cut passages below the scorer's 192-token budget (re-encoding a
    # decoded cut with the template's leading space can add a token) so both see exactly the same text
    pairs = [
        Pair(p.query, bb.tokenizer.decode(bb.tokenizer.encode(p.doc, add_special_tokens=False)[:176]))
        for p in pairs
    ]
    scorer.score(pairs[:8])  # warm-up for both paths
    t0 = time.perf_counter()
    base = plain_loop(bb.model, bb.tokenizer, pairs, scorer.yes, scorer.no)
    t_base = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = scorer.score(pairs)
    t_ours = time.perf_counter() - t0
    diff = max(abs(a - b) for a, b in zip(base, ours, strict=True))
    dtype = pick_dtype("auto", "cpu")
    bb.model.to(dtype)
    fast = YesNoScorer(bb.model, bb.tokenizer)
    fast.score(pairs[:8])
    t0 = time.perf_counter()
    ours_auto = fast.score(pairs)
    t_auto = time.perf_counter() - t0
    t0 = time.perf_counter()
    plain_loop(bb.model, bb.tokenizer, pairs, scorer.yes, scorer.no)
    t_base_auto = time.perf_counter() - t0
    rho = spearmanr(base, ours_auto).statistic
    n = len(pairs)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}"
    )
    print(f"pairs: {n} DL19 BM25 pairs, model {args.model}")
    print(f"baseline: plain transformers loop, full logits, float32: {n / t_base:8.1f} pairs/s")
    print(
        f"rankscope YesNoScorer, float32:                          {n / t_ours:8.1f} pairs/s"
        f"  ({t_base / t_ours:.2f}x, max |score diff| {diff:.1e})"
    )
    print(
        f"plain loop, {str(dtype).removeprefix('torch.')}:                                 "
        f"{n / t_base_auto:8.1f} pairs/s"
    )
    print(
        f"rankscope YesNoScorer, {str(dtype).removeprefix('torch.')} (--dtype auto):          "
        f"{n / t_auto:8.1f} pairs/s  ({t_base_auto / t_auto:.2f}x the plain loop in the same dtype)"
    )
    print(f"ratio: {t_base / t_auto:.2f}x against the named baseline (Spearman vs baseline scores {rho:.3f})")


if __name__ == "__main__":
    main()
