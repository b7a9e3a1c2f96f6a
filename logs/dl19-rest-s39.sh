#!/usr/bin/env bash
# Session 39: logs/dl19-rest-s38.sh (the rest of issue 11 item 8's DL19 test: thirds, freezing, Q-PEFT-R / -A,
# LoRA r = 2; 3 seeds each) for a machine without its models: it first puts the committed DL19 run files back
# (logs/runs-dl19-s38/) and skips the training of a study's seed when every arm of it is already scored, which
# the s38 script did not (it retrained every seed before looking for its run files). Otherwise the same specs,
# order and outputs; resumable. Its paired tests: logs/dl19-rest-compare-s38.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
source logs/study.sh
export RANKSCOPE_MMAP_THRESHOLD=0
OUT=runs/dl19-study
restore_runs $OUT
SPECS=runs/dl19-specs
mkdir -p $SPECS
declare -A SRC=([layers]=logs/layers-s36.yaml [freeze]=logs/freeze-s37.yaml
  [qpeft]=examples/study/smollm2-qpeft.yaml [qpeft-lora]=examples/study/smollm2-qpeft-lora.yaml)
declare -A ARMS=([layers]=3 [freeze]=1 [qpeft]=2 [qpeft-lora]=1)  # grid points per seed
for study in layers freeze qpeft qpeft-lora; do
  sed 's/max_queries: null/max_queries: 5/' "${SRC[$study]}" > $SPECS/$study.yaml
  grep -q "max_queries: 5" $SPECS/$study.yaml || { echo "no dev max_queries in ${SRC[$study]}"; exit 1; }
done
for s in 0 1 2; do
  for study in layers freeze qpeft qpeft-lora; do
    scored=$(find $OUT/$study -path "*_seed-$s/run.trec" 2>/dev/null | wc -l)
    [ "$scored" -ge "${ARMS[$study]}" ] && continue
    date; $RS sweep $SPECS/$study.yaml --out runs/dl19-$study --only "$s/3" --resume
    for d in runs/dl19-$study/runs/*_seed-$s; do dl19_rerank "$study/$(basename "$d")" --run "$d"; done
  done
done
date; echo done
