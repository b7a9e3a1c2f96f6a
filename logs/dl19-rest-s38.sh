#!/usr/bin/env bash
# Session 38, for a later session: the rest of issue 11 item 8's DL19 test of the SmolLM2 studies, which one
# session's CPU did not hold (logs/dl19-targets-s38.sh and logs/dl19-rank-s38.sh ran the targets and ranks
# 1 / 8 / 32): LoRA r = 8 in one third of the layers (logs/layers-s36.yaml), freezing (logs/freeze-s37.yaml),
# Q-PEFT-R / Q-PEFT-A and their matched LoRA r = 2 (examples/study/smollm2-qpeft.yaml, smollm2-qpeft-lora.yaml),
# 3 seeds each, 21 models, about 9 minutes each on 2 AVX512-BF16 cores (about 3.2 hours). Each spec is
# retrained unchanged except its dev evaluation, cut to 5 queries (the 139-query dev figures are in
# docs/results.md; with one checkpoint the dev set picks nothing), then reranks DL19's BM25 top-100 into
# runs/dl19-study/STUDY/NAME/. Seed-major; resumable: finished trainings and outputs are skipped.
# Session 39: a study's seed whose arms are all scored (run files restored from logs/runs-dl19-s38/ count)
# is not trained again, so a machine without runs/ does not retrain the scored seeds first.
# Its paired tests: logs/dl19-rest-compare-s38.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
source logs/study.sh
export RANKSCOPE_MMAP_THRESHOLD=0
OUT=runs/dl19-study
restore_runs $OUT  # zero-shot QL and the targets / rank runs the paired tests compare with
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
