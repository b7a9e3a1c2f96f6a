#!/usr/bin/env bash
# This session's chain, reordered (2026-12-06, AVX512-BF16 machine): waits for seed 0's training (started by
# logs/queue-s29.sh), then the zero-shot MiniLM baselines, seeds 1 and 2 of examples/minilm-scifact.yaml, the
# soup of the three seeds' best checkpoints and its rerankings first, then each seed's; one heavy job at a time.
set -uo pipefail
cd /work/main
while pgrep -f "rankscope train examples/minilm-scifact.yaml --out runs/minilm-scifact$" > /dev/null; do sleep 20; done
RS=.venv/bin/rankscope
S=runs/minilm-scifact
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
train $S examples/minilm-scifact.yaml   # resumes seed 0 if its first training was cut off
[ -f $SCI ] || $RS retrieve --dataset scifact-test --k 100 --out runs/scifact-bm25
step runs/dev-minilm --dataset msmarco-dev600-dev --candidates bm25 --model minilm-l6 --scorer bi-encoder --depth 20
step runs/dl19-minilm --dataset dl19 --candidates bm25 --model minilm-l6 --scorer bi-encoder --depth 100
step runs/scifact-minilm-doc256 --dataset scifact-test --candidates $SCI --model minilm-l6 --scorer bi-encoder --depth 20 $B
[ -f runs/dev600-dev.qrels ] || .venv/bin/python -c "
import rankscope
c = rankscope.load_dataset('msmarco-dev600-dev')
with open('runs/dev600-dev.qrels', 'w') as f:
    f.writelines(f'{q} 0 {d} {g}\n' for q, docs in c.qrels.items() for d, g in docs.items())"
step $S-dev --dataset msmarco-dev600-dev --candidates bm25 --run $S --depth 20
mkdir -p runs/seeds
for s in 1 2; do
  sed "s/seed: 0/seed: $s/g" examples/minilm-scifact.yaml > runs/seeds/minilm-scifact-seed$s.yaml
  train $S-seed$s runs/seeds/minilm-scifact-seed$s.yaml
done
[ -d $S-soup ] || $RS soup $S $S-seed1 $S-seed2 --out $S-soup
for r in $S-soup $S $S-seed1 $S-seed2; do evalrun $r; done
echo "== done $(date +%H:%M:%S)"
