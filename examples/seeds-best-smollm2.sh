#!/usr/bin/env bash
# Seeds of the recipe (examples/best-smollm2.yaml, seed 0; docs/results.md, "Seeds of candidate 3"):
# the same spec with train.seed and optim.seed set to each of SEEDS (data order, negatives sampled),
# trained on the 400-step schedule (with STOP set: stopped after step STOP's checkpoint and dev
# evaluation, for CPU time; `rankscope train --resume --out RUN` continues it), then the best checkpoint
# (RUN/best, chosen on the 30 selection queries as for seed 0) reranks the whole dev part and DL19.
# Skips finished outputs.
#   SEEDS="1 2" nohup bash examples/seeds-best-smollm2.sh > logs/seeds-best-smollm2.log 2>&1 &
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
SEEDS=${SEEDS:-1 2}
STOP=${STOP:-}
export RANKSCOPE_MMAP_THRESHOLD=0
reached() { [ -f "$1/metrics.jsonl" ] && .venv/bin/python - "$1/metrics.jsonl" "$STOP" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
sys.exit(0 if any(int(r["step"]) >= int(sys.argv[2]) for r in rows) else 1)
EOF
}
for seed in $SEEDS; do
  run=runs/full-smollm2-2ep-seed$seed
  mkdir -p runs/seeds
  spec=runs/seeds/best-smollm2-seed$seed.yaml
  sed "s/seed: 0/seed: $seed/g" examples/best-smollm2.yaml > $spec
  args=($spec --out $run); [ -f $run/spec.yaml ] && args=(--resume --out $run)  # a stopped run resumes
  if [ -z "$STOP" ]; then
    if [ ! -f $run/summary.json ]; then
      echo "== train $run $(date +%H:%M:%S)"
      $RS train "${args[@]}" > logs/$(basename $run).log 2>&1
    fi
  elif ! reached $run; then
    if ! pgrep -f "rankscope train .*--out $run( |$)" > /dev/null; then
      echo "== train $run $(date +%H:%M:%S)"
      $RS train "${args[@]}" > logs/$(basename $run).log 2>&1 &
    fi
    until reached $run; do sleep 30; done
    sleep 120  # RUN/best is copied after the checkpoint's dev row is written
    pkill -f "rankscope train .*--out $run( |$)"; sleep 10
    echo "== stopped $run after step $STOP $(date +%H:%M:%S)"
  fi
  cat $run/best/best.json
done
step() { out=$1; shift; if [ -f "$out/run.trec" ]; then echo "skip $out"; return; fi
  echo "== $out $(date +%H:%M:%S)"; "$RS" rerank "$@" --out "$out" | tail -8; }
for seed in $SEEDS; do
  run=runs/full-smollm2-2ep-seed$seed
  step $run-dev --dataset msmarco-dev600-dev --candidates bm25 --run $run --depth 20
done
for seed in $SEEDS; do
  run=runs/full-smollm2-2ep-seed$seed
  step $run-dl19 --dataset dl19 --candidates bm25 --run $run --depth 100
done
echo "done $(date +%H:%M:%S)"
