#!/usr/bin/env bash
# Session 34: the Q-PEFT study's Q-PEFT-R rows rerun after the Q-PEFT-R top-k tie fix (ties broken by
# position, not by the batch's padded width), then LoRA r=2 (the matched-parameter reference) on this
# machine for a paired comparison; zero-shot query likelihood on the dev part recomputed first (the
# baseline's run file was gone). Seed-major, resumable: rerun the script after an interruption.
set -euo pipefail
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
export RANKSCOPE_MMAP_THRESHOLD=0
date
[ -f runs/dev-ql/run.trec ] || $RS rerank --dataset msmarco-dev600-dev --candidates bm25 --model smollm2-135m \
  --scorer query-likelihood --depth 20 --out runs/dev-ql | tail -8
date
for s in 0 1 2; do
  $RS sweep logs/qpeft-r-s34.yaml --out runs/study-smollm2-qpeft --only "$s/3" --resume; date
done
for s in 0 1 2; do
  $RS sweep examples/study/smollm2-qpeft-lora.yaml --out runs/study-smollm2-qpeft-lora --only "$s/3" --resume; date
done
echo done
