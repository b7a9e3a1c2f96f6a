#!/usr/bin/env bash
# Session 34, after logs/qpeft-r-s34.sh: Q-PEFT-A's three seeds rerun on the same code and machine, so
# that all three methods of the Q-PEFT study are paired on one code base. Resumable.
set -euo pipefail
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
export RANKSCOPE_MMAP_THRESHOLD=0
while pgrep -f "logs/qpeft-r-s34.sh" > /dev/null; do sleep 30; done
for s in 0 1 2; do
  $RS sweep logs/qpeft-a-s34.yaml --out runs/study-smollm2-qpeft-a --only "$s/3" --resume; date
done
echo done
