#!/usr/bin/env bash
# Session 35: LoRA ranks 8 and 32 on SmolLM2 (logs/rank-s35.yaml), seed-major, resumable: rerun after a kill.
set -euo pipefail
cd "$(dirname "$0")/.."
source logs/study.sh
seed_sweep logs/rank-s35.yaml runs/study-smollm2-rank
