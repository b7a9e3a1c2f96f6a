#!/usr/bin/env bash
# Session 38: issue 11 item 8's DL19 test of LoRA targets (logs/dl19-targets-s38.yaml): zero-shot query likelihood
# at the study's 128-token budget, then per seed: train the three arms (attention + MLP, attention, MLP; r = 8,
# 50 steps) and rerank DL19's BM25 top-100 with each into runs/dl19-study/NAME/. Seed-major, so a cut-short run
# still holds whole seeds. Resumable: finished trainings and outputs are skipped, so rerun after a kill.
set -uo pipefail
cd "$(dirname "$0")/.."
source logs/study.sh
export RANKSCOPE_MMAP_THRESHOLD=0
dl19_rerank zero-shot-ql-128 --model smollm2-135m --scorer query-likelihood --max-doc-tokens 128
for s in 0 1 2; do
  date; $RS sweep logs/dl19-targets-s38.yaml --out runs/dl19-targets --only "$s/3" --resume
  for d in runs/dl19-targets/runs/*_seed-$s; do dl19_rerank "$(basename "$d")" --run "$d"; done
done
date; echo done
