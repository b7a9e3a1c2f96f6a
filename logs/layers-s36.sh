#!/usr/bin/env bash
# Session 36: LoRA in layers 0-9 / 10-19 / 20-29 on SmolLM2 (logs/layers-s36.yaml), seed-major, resumable: rerun after a kill.
set -euo pipefail
cd "$(dirname "$0")/.."
source logs/study.sh
seed_sweep logs/layers-s36.yaml runs/study-smollm2-layers
