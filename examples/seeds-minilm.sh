#!/usr/bin/env bash
# Seeds of a MiniLM recipe (docs/results.md, issue 11): SPEC (default examples/minilm-dl21.yaml, seed 0
# trained as runs/<name>) with train.seed and optim.seed set to each of SEEDS, trained as runs/<name>-seedN
# (a teacher's scores read from seed 0's cache in runs/<name>), then each best checkpoint reranks the dev
# part (BM25 top-20), DL19 (top-100) and SciFact test (top-20).
# Skips finished outputs; a killed training resumes. Compare the seeds as one run by joining their run
# files with commas: rankscope compare runs/dl19-minilm/run.trec A/run.trec,B/run.trec,C/run.trec ...
#   SPEC=examples/minilm-dl21.yaml SEEDS="1 2" nohup bash examples/seeds-minilm.sh > logs/seeds-minilm.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
SPEC=${SPEC:-examples/minilm-dl21.yaml}
SEEDS=${SEEDS:-1 2}
name=$(basename "$SPEC" .yaml)
SCI=runs/scifact-bm25/candidates.jsonl.gz
[ -f $SCI ] || $RS retrieve --dataset scifact-test --k 100 --out runs/scifact-bm25
mkdir -p runs/seeds
step() { out=$1; shift; [ -f "$out/run.trec" ] || $RS rerank "$@" --out "$out" | tail -1; }
for seed in $SEEDS; do
  run=runs/$name-seed$seed
  spec=runs/seeds/$name-seed$seed.yaml
  sed "s/seed: 0/seed: $seed/g" "$SPEC" > "$spec"
  # a spec with a teacher reads seed 0's cached teacher scores (when there) instead of scoring them again
  if grep -q '^teacher:' "$spec" && [ -f runs/$name/teacher_scores.jsonl ]; then
    sed -i "/^teacher:/a\\  reuse: [runs/$name]" "$spec"
  fi
  if [ ! -f $run/summary.json ]; then
    echo "== train $run $(date +%H:%M:%S)"
    args=("$spec" --out $run); [ -f $run/spec.yaml ] && args=(--resume --out $run)
    $RS train "${args[@]}" > logs/$(basename $run).log 2>&1
  fi
  echo "== rerank $run $(date +%H:%M:%S)"
  step $run-dev --dataset msmarco-dev600-dev --candidates bm25 --run $run --depth 20
  step $run-dl19 --dataset dl19 --candidates bm25 --run $run --depth 100
  step $run-scifact --dataset scifact-test --candidates $SCI --run $run --depth 20
done
