#!/usr/bin/env bash
# This session's chain (2026-12-06, AVX512-BF16 machine): the SciFact recipe distilled from the fusion, 3 seeds,
# and zero-shot MiniLM baselines on this machine, one heavy job at a time.
set -uo pipefail
cd /work/main
RS=.venv/bin/rankscope
SCI=runs/scifact-bm25/candidates.jsonl.gz
B="--max-query-tokens 64 --max-doc-tokens 256"
step() { out=$1; shift; [ -f "$out/run.trec" ] && { echo "skip $out"; return; }; echo "== $out $(date +%H:%M:%S)"; $RS rerank "$@" --out "$out" 2>&1 | tail -2; }
echo "== train seed 0 $(date +%H:%M:%S)"
if [ ! -f runs/minilm-scifact-teacher/summary.json ]; then
  if [ -f runs/minilm-scifact-teacher/spec.yaml ]; then
    RANKSCOPE_MMAP_THRESHOLD=0 $RS train --resume --out runs/minilm-scifact-teacher > logs/minilm-scifact-teacher.log 2>&1
  else
    RANKSCOPE_MMAP_THRESHOLD=0 $RS train examples/minilm-scifact-teacher.yaml --out runs/minilm-scifact-teacher > logs/minilm-scifact-teacher.log 2>&1
  fi
fi
[ -f $SCI ] || $RS retrieve --dataset scifact-test --k 100 --out runs/scifact-bm25
step runs/dev-minilm --dataset msmarco-dev600-dev --candidates bm25 --model minilm-l6 --scorer bi-encoder --depth 20
step runs/dl19-minilm --dataset dl19 --candidates bm25 --model minilm-l6 --scorer bi-encoder --depth 100
step runs/scifact-minilm-doc256 --dataset scifact-test --candidates $SCI --model minilm-l6 --scorer bi-encoder --depth 20 $B
R=runs/minilm-scifact-teacher
step $R-dev --dataset msmarco-dev600-dev --candidates bm25 --run $R --depth 20
step $R-dl19 --dataset dl19 --candidates bm25 --run $R --depth 100
step $R-scifact-doc256 --dataset scifact-test --candidates $SCI --run $R --depth 20 $B
SPEC=examples/minilm-scifact-teacher.yaml SEEDS="1 2" RANKSCOPE_MMAP_THRESHOLD=0 bash examples/seeds-minilm.sh
for s in 1 2; do step $R-seed$s-scifact-doc256 --dataset scifact-test --candidates $SCI --run $R-seed$s --depth 20 $B; done
echo "== done $(date +%H:%M:%S)"
