#!/usr/bin/env bash
# This session's chain (2026-12-06, AVX512-BF16 machine): examples/minilm-scifact.yaml seeds 0, 1, 2 (the
# ingredients of a weight-averaged soup), each best checkpoint reranking the dev part, DL19 top-100 and SciFact
# test top-20 at 64 + 256 tokens, and the zero-shot MiniLM baselines on this machine; one heavy job at a time.
set -uo pipefail
cd /work/main
RS=.venv/bin/rankscope
SCI=runs/scifact-bm25/candidates.jsonl.gz
B="--max-query-tokens 64 --max-doc-tokens 256"
step() { out=$1; shift; [ -f "$out/run.trec" ] && { echo "skip $out"; return; }; echo "== $out $(date +%H:%M:%S)"; $RS rerank "$@" --out "$out" 2>&1 | tail -2; }
train() { run=$1 spec=$2
  echo "== train $run $(date +%H:%M:%S)"
  [ -f $run/summary.json ] && return
  if [ -f $run/spec.yaml ]; then $RS train --resume --out $run >> logs/$(basename $run)-s29.log 2>&1
  else $RS train $spec --out $run > logs/$(basename $run)-s29.log 2>&1; fi
}
evalrun() { R=$1
  step $R-dev --dataset msmarco-dev600-dev --candidates bm25 --run $R --depth 20
  step $R-dl19 --dataset dl19 --candidates bm25 --run $R --depth 100
  step $R-scifact-doc256 --dataset scifact-test --candidates $SCI --run $R --depth 20 $B
}
mkdir -p runs/seeds
train runs/minilm-scifact examples/minilm-scifact.yaml
[ -f $SCI ] || $RS retrieve --dataset scifact-test --k 100 --out runs/scifact-bm25
step runs/dev-minilm --dataset msmarco-dev600-dev --candidates bm25 --model minilm-l6 --scorer bi-encoder --depth 20
step runs/dl19-minilm --dataset dl19 --candidates bm25 --model minilm-l6 --scorer bi-encoder --depth 100
step runs/scifact-minilm-doc256 --dataset scifact-test --candidates $SCI --model minilm-l6 --scorer bi-encoder --depth 20 $B
[ -f runs/dev600-dev.qrels ] || .venv/bin/python -c "
import rankscope
c = rankscope.load_dataset('msmarco-dev600-dev')
with open('runs/dev600-dev.qrels', 'w') as f:
    f.writelines(f'{q} 0 {d} {g}\n' for q, docs in c.qrels.items() for d, g in docs.items())"
evalrun runs/minilm-scifact
for s in 1 2; do
  sed "s/seed: 0/seed: $s/g" examples/minilm-scifact.yaml > runs/seeds/minilm-scifact-seed$s.yaml
  train runs/minilm-scifact-seed$s runs/seeds/minilm-scifact-seed$s.yaml
  evalrun runs/minilm-scifact-seed$s
done
echo "== done $(date +%H:%M:%S)"
