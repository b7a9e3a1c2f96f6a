#!/usr/bin/env bash
# Every model of the MiniLM seed, layer, LoRA, rank and lr studies reranks DL19's BM25 top-100 (43 queries); skips
# finished outputs. Then: .venv/bin/python examples/study/study-vs-zero-shot.py dl19
cd "$(dirname "$0")/../.."
for sweep in study-minilm-seeds study-minilm-layers study-minilm-lora study-minilm-rank study-minilm-lora-lr; do
  for run in runs/$sweep/runs/*/; do
    out=runs/study-dl19/$sweep/$(basename "$run")
    [ -f "$out/run.trec" ] && { echo "skip $out"; continue; }
    echo "== $out $(date +%H:%M:%S)"
    .venv/bin/rankscope rerank --dataset dl19 --candidates bm25 --run "$run" --checkpoint final --depth 100 \
        --out "$out" || exit 1
  done
done
