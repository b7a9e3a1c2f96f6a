"""SmolLM2 yes/no scoring speed: rankscope's scorer against a plain transformers loop, same DL19 pairs.

Baseline ("plain loop"): per pair, the chat template is formatted and tokenised as a string; batches of 16
in file order are padded and run through the full causal LM, whose logits are computed at every position
over the whole vocabulary; the yes/no logits are read at each row's last real token.
rankscope: cached template tokens, length-sorted batches, only the yes/no rows of the LM head at the last
position, and bf16 weights where the CPU has native bf16 (`--dtype auto`, the rerank default).
The named baseline is the plain loop in float32 (what transformers does by default); the plain loop is
also timed in bf16 so the ratio from the pipeline alone is visible. Prints pairs/s of each, the ratios,
and how far the scores are from the baseline's (max difference in fp32, Spearman in bf16).

Against the hardware: the same run measures this CPU's matmul peak (the best 2048^3 float32 GEMM, and
bf16 where the CPU has native bf16, with the threads scoring uses) and counts the FLOPs of the tokens
rankscope's scorer actually runs (rankscope.speed: 2 * block weights * real tokens + causal attention +
the yes/no head rows; padding not counted), printed per pair. The last line is rankscope's scorer at
`--dtype auto` against the measured peak of that dtype:
`scoring: N pairs/s, X% of this CPU's measured matmul peak`.

    .venv/bin/python bench/score_cpu.py [--pairs 192] [--peak-seconds 2]
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
from rankscope.runtime import cpu_has_bf16, cpu_vector_isa, pick_dtype
from rankscope.scorers.base import Pair, length_batches
from rankscope.scorers.decoder import YesNoScorer
from rankscope.scorers.prompts import YES_NO, chat_text
from rankscope.speed import DecoderShape, matmul_peak


def plain_loop(model, tok, pairs: list[Pair], yes: list[int], no: list[int], batch: int = 16) -> list[float]:
    out: list[float] = []
    with torch.no_grad():
        for i in range(0, len(pairs), batch):
            # the scorer's prompt: the user turn, with the template's default system prompt dropped
            texts = [chat_text(tok, YES_NO.format(query=p.query, doc=p.doc)) for p in pairs[i : i + batch]]
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
    ap.add_argument("--peak-seconds", type=float, default=2.0, help="time spent on each GEMM peak")
    args = ap.parse_args()
    torch.manual_seed(0)
    peak = {torch.float32: matmul_peak(torch.float32, seconds=args.peak_seconds)}
    if cpu_has_bf16():
        peak[torch.bfloat16] = matmul_peak(torch.bfloat16, seconds=args.peak_seconds)
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
    lengths = [len(x) for x in scorer.encode(pairs)]
    padded = sum(
        len(b) * max(lengths[i] for i in b)
        for b in length_batches(lengths, scorer.max_tokens, scorer.max_batch)
    )
    shape = DecoderShape.of(bb.model)
    flops = shape.forward_flops(lengths, head_rows=len(scorer.yes + scorer.no) * len(pairs))
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
    fast.prefix_cache = True  # the constant template start run once per call, its keys/values shared
    fast.score(pairs[:8])
    t0 = time.perf_counter()
    ours_prefix = fast.score(pairs)
    t_prefix = time.perf_counter() - t0
    n_prefix = len(fast.template.pieces[0])
    rest = [n - n_prefix for n in lengths]
    flops_prefix = shape.forward_flops(
        rest, head_rows=len(scorer.yes + scorer.no) * len(pairs), prefix=n_prefix
    )
    flops_prefix += shape.forward_flops([n_prefix])
    prefix_diff = max(abs(a - b) for a, b in zip(ours_auto, ours_prefix, strict=True))
    rho = spearmanr(base, ours_auto).statistic
    n = len(pairs)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} {cpu_vector_isa()}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    print(
        "matmul peak (2048^3 GEMM, best of the run): "
        + ", ".join(f"{str(k).removeprefix('torch.')} {v / 1e9:.1f} GFLOP/s" for k, v in peak.items())
    )
    print(
        f"per pair: {sum(lengths) / n:.1f} tokens run ({padded / n:.1f} with padding), "
        f"{flops / n / 1e9:.3f} GFLOP (2 x block weights x tokens + attention + head rows)"
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
    name = str(dtype).removeprefix("torch.")
    for label, secs, pk in (("float32", t_ours, peak[torch.float32]), (name, t_auto, peak.get(dtype, 0.0))):
        rate = flops / secs
        share = f", {100 * rate / pk:.1f}% of the {label} peak" if pk else ""
        print(f"rankscope YesNoScorer, {label}: {rate / 1e9:.1f} GFLOP/s{share}")
    print(
        f"rankscope YesNoScorer, {name}, prefix KV cache ({n_prefix} template tokens once per call): "
        f"{n / t_prefix:.1f} pairs/s ({t_auto / t_prefix:.2f}x without it), {sum(rest) / n:.1f} tokens and "
        f"{flops_prefix / n / 1e9:.3f} GFLOP per pair, max |score diff| {prefix_diff:.1e}"
    )
    pct = 100 * flops / t_auto / peak.get(dtype, peak[torch.float32])
    print(f"scoring: {n / t_auto:.1f} pairs/s, {pct:.1f}% of this CPU's measured matmul peak")


if __name__ == "__main__":
    main()
