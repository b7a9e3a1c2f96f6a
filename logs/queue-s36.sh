#!/usr/bin/env bash
# Session 36: after the targets study (logs/targets-s36.sh), zero-shot QL on SciFact at 256 tokens with its
# paired tests (logs/scifact-ql-s36.sh), then LoRA rank 1 (logs/rank1-s36.yaml); one job at a time, resumable.
set -euo pipefail
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
export RANKSCOPE_MMAP_THRESHOLD=0
while pgrep -f "logs/targets-s36.sh" > /dev/null; do sleep 60; done
bash logs/scifact-ql-s36.sh > logs/scifact-ql-s36.log 2>&1
date
for s in 0 1 2; do
  $RS sweep logs/rank1-s36.yaml --out runs/study-smollm2-rank1 --only "$s/3" --resume; date
done
echo done
