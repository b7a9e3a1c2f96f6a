#!/usr/bin/env bash
# Session 37: layer freezing on SmolLM2 (logs/freeze-s37.yaml), 3 seeds, resumable: rerun after a kill.
set -euo pipefail
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
export RANKSCOPE_MMAP_THRESHOLD=0
date
$RS sweep logs/freeze-s37.yaml --out runs/study-smollm2-freeze --resume
date
echo done
