#!/usr/bin/env bash
# Session 38: issue 11 item 8's DL19 test of LoRA rank (logs/dl19-rank-s38.yaml: r = 1 and r = 32; r = 8 is the
# targets test's attention + MLP arm), started behind logs/dl19-targets-s38.sh (it waits for it): per seed,
# train both ranks and rerank DL19's BM25 top-100 with each into runs/dl19-study/NAME/. Seed-major; resumable:
# finished trainings and outputs are skipped, so rerun after a kill.
set -uo pipefail
cd "$(dirname "$0")/.."
source logs/study.sh
export RANKSCOPE_MMAP_THRESHOLD=0
while pgrep -f dl19-targets-s38.sh > /dev/null; do sleep 30; done
OUT=runs/dl19-study
restore_runs $OUT  # the committed DL19 runs: on a new machine a scored seed is not trained again
for s in 0 1 2; do
  [ -f $OUT/rank-1_seed-$s/run.trec ] && [ -f $OUT/rank-32_seed-$s/run.trec ] && continue
  date; $RS sweep logs/dl19-rank-s38.yaml --out runs/dl19-rank --only "$s/3" --resume
  for d in runs/dl19-rank/runs/*_seed-$s; do dl19_rerank "$(basename "$d")" --run "$d"; done
done
date; echo done
