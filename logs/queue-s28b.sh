#!/usr/bin/env bash
# examples/minilm-scifact.yaml (labels only) seed 0 on this AVX512-BF16 machine, beside the teacher recipe's seed 0.
set -uo pipefail
cd /work/main
RS=.venv/bin/rankscope
SCI=runs/scifact-bm25/candidates.jsonl.gz
B="--max-query-tokens 64 --max-doc-tokens 256"
step() { out=$1; shift; [ -f "$out/run.trec" ] && { echo "skip $out"; return; }; echo "== $out $(date +%H:%M:%S)"; $RS rerank "$@" --out "$out" 2>&1 | tail -2; }
R=runs/minilm-scifact
echo "== train $R $(date +%H:%M:%S)"
if [ ! -f $R/summary.json ]; then
  if [ -f $R/spec.yaml ]; then $RS train --resume --out $R >> logs/minilm-scifact-bf16.log 2>&1
  else $RS train examples/minilm-scifact.yaml --out $R > logs/minilm-scifact-bf16.log 2>&1; fi
fi
step $R-dev --dataset msmarco-dev600-dev --candidates bm25 --run $R --depth 20
step $R-scifact-doc256 --dataset scifact-test --candidates $SCI --run $R --depth 20 $B
step $R-dl19 --dataset dl19 --candidates bm25 --run $R --depth 100
echo "== done $(date +%H:%M:%S)"
