#!/usr/bin/env bash
# Session 36: LoRA on attention only / MLP only on SmolLM2 (logs/targets-s36.yaml), seed-major, resumable: rerun after a kill.
set -euo pipefail
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
export RANKSCOPE_MMAP_THRESHOLD=0
date
for s in 0 1 2; do
  $RS sweep logs/targets-s36.yaml --out runs/study-smollm2-targets --only "$s/3" --resume; date
done
echo done
