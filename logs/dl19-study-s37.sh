#!/usr/bin/env bash
# Session 37: issue 11 item 8's DL19 test of the SmolLM2 studies (LoRA rank, targets, layers, freezing, Q-PEFT;
# 3 seeds each): every study model (its step-50 checkpoint, the only one) reranks DL19's BM25 top-100 at its own
# 128-token budget, and zero-shot query likelihood at 128 tokens too (the same budget), into runs/dl19-study/.
# About 7-8 minutes a model on 2 cores; resumable: a finished output is skipped, so rerun after a kill.
set -uo pipefail
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
export RANKSCOPE_MMAP_THRESHOLD=0
OUT=runs/dl19-study
mkdir -p $OUT
one() {  # NAME ARGS...: rerank DL19 into $OUT/NAME unless it is there
  local name=$1; shift
  [ -f "$OUT/$name/run.trec" ] && return 0
  date; echo "== $name"
  $RS rerank --dataset dl19 --candidates bm25 --depth 100 --out "$OUT/$name" "$@" || echo "FAILED $name"
}
one zero-shot-ql-128 --model smollm2-135m --scorer query-likelihood --max-doc-tokens 128
for s in 0 1 2; do  # seed-major, the reference arm (all layers, attention + MLP, r = 8) first
  one rank-8_seed-$s --run runs/study-smollm2-rank/runs/rank-8_seed-$s
  for r in 1 2 32; do
    d=runs/study-smollm2-rank/runs/rank-${r}_seed-$s
    [ $r = 1 ] && d=runs/study-smollm2-rank1/runs/rank-1_seed-$s
    [ $r = 2 ] && d=runs/study-smollm2-qpeft-lora/runs/rank-2_seed-$s   # the Q-PEFT study's LoRA side
    one rank-${r}_seed-$s --run $d
  done
  one qpeft-r_seed-$s --run runs/study-smollm2-qpeft/runs/name-qpeft-r_seed-$s
  one qpeft-a_seed-$s --run runs/study-smollm2-qpeft-a/runs/name-qpeft-a_seed-$s
  for t in attn mlp; do one targets-${t}_seed-$s --run runs/study-smollm2-targets/runs/targets-${t}_seed-$s; done
  for l in 0-9 10-19 20-29; do one layers-${l}_seed-$s --run runs/study-smollm2-layers/runs/layers-${l}_seed-$s; done
  one freeze-20-29_seed-$s --run runs/study-smollm2-freeze/runs/layers-20-29_seed-$s
done
date; echo done
