#!/usr/bin/env bash
# Session 36: LoRA on attention only / MLP only on SmolLM2 (logs/targets-s36.yaml), seed-major, resumable: rerun after a kill.
set -euo pipefail
cd "$(dirname "$0")/.."
source logs/study.sh
seed_sweep logs/targets-s36.yaml runs/study-smollm2-targets
