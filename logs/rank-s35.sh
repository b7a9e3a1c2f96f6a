#!/usr/bin/env bash
# Session 35: LoRA ranks 8 and 32 on SmolLM2 (logs/rank-s35.yaml), seed-major, resumable: rerun after a kill.
set -euo pipefail
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
export RANKSCOPE_MMAP_THRESHOLD=0
date
for s in 0 1 2; do
  $RS sweep logs/rank-s35.yaml --out runs/study-smollm2-rank --only "$s/3" --resume; date
done
echo done
