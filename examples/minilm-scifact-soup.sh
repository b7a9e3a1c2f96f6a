#!/usr/bin/env bash
# Three seeds of a MiniLM recipe and their soup (docs/results.md, "A soup of the SciFact recipe's three
# seeds"): SPEC (default examples/minilm-scifact.yaml) trained as runs/<name> with seeds 0, 1, 2 (skipped
# when done; a killed training resumes), their best checkpoints' weights averaged into one bi-encoder
# (rankscope soup, runs/<name>-soup), and the soup, each seed and zero-shot MiniLM reranking the dev part
# (BM25 top-20), DL19 (top-100) and SciFact test (top-20, 64 + 256 tokens on every side), then the paired
# tests against zero-shot MiniLM. About 35 minutes a seed on 2 AVX512-BF16 cores.
#   nohup bash examples/minilm-scifact-soup.sh > logs/minilm-scifact-soup.log 2>&1 &
#   SPEC=examples/minilm-graded.yaml nohup bash examples/minilm-scifact-soup.sh > logs/minilm-graded-soup.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
SPEC=${SPEC:-examples/minilm-scifact.yaml}
name=$(basename "$SPEC" .yaml)
S=runs/$name
SCI=runs/scifact-bm25/candidates.jsonl.gz
B="--max-query-tokens 64 --max-doc-tokens 256"
step() { out=$1; shift; [ -f "$out/run.trec" ] || { echo "== $out $(date +%H:%M:%S)"; $RS rerank "$@" --out "$out" | tail -1; }; }
train() { run=$1 spec=$2
  [ -f $run/summary.json ] && return
  echo "== train $run $(date +%H:%M:%S)"
  if [ -f $run/spec.yaml ]; then $RS train --resume --out $run >> $run.log 2>&1
  else $RS train $spec --out $run > $run.log 2>&1; fi
}
evalrun() { R=$1; shift
  step $R-dev --dataset msmarco-dev600-dev --candidates bm25 "$@" --depth 20
  step $R-dl19 --dataset dl19 --candidates bm25 "$@" --depth 100
  step $R-scifact-doc256 --dataset scifact-test --candidates $SCI "$@" --depth 20 $B
}
mkdir -p runs/seeds
train $S "$SPEC"
for s in 1 2; do
  sed "s/seed: 0/seed: $s/g" "$SPEC" > runs/seeds/$name-seed$s.yaml
  train $S-seed$s runs/seeds/$name-seed$s.yaml
done
[ -d $S-soup ] || $RS soup $S $S-seed1 $S-seed2 --out $S-soup
[ -f $SCI ] || $RS retrieve --dataset scifact-test --k 100 --out runs/scifact-bm25
[ -f runs/dev600-dev.qrels ] || .venv/bin/python -c "
import rankscope
c = rankscope.load_dataset('msmarco-dev600-dev')
with open('runs/dev600-dev.qrels', 'w') as f:
    f.writelines(f'{q} 0 {d} {g}\n' for q, docs in c.qrels.items() for d, g in docs.items())"
ZS="--model minilm-l6 --scorer bi-encoder"
step runs/dev-minilm --dataset msmarco-dev600-dev --candidates bm25 $ZS --depth 20
step runs/dl19-minilm --dataset dl19 --candidates bm25 $ZS --depth 100
step runs/scifact-minilm-doc256 --dataset scifact-test --candidates $SCI $ZS --depth 20 $B
for r in $S-soup $S $S-seed1 $S-seed2; do evalrun $r --run $r; done
seeds() { echo $S-$1/run.trec,$S-seed1-$1/run.trec,$S-seed2-$1/run.trec; }
echo "== dev part"
$RS compare runs/dev-minilm/run.trec $S-soup-dev/run.trec $(seeds dev) \
    --name minilm --name soup --name 3-seeds --qrels runs/dev600-dev.qrels -m RR@10 -m nDCG@10
echo "== DL19"
$RS compare runs/dl19-minilm/run.trec $S-soup-dl19/run.trec $(seeds dl19) \
    --name minilm --name soup --name 3-seeds --qrels ../shared/data/trec-dl-2019-passage/qrels.txt \
    -m nDCG@10 -m "RR(rel=2)@10"
echo "== SciFact test, 64 + 256 tokens"
$RS compare runs/scifact-minilm-doc256/run.trec $S-soup-scifact-doc256/run.trec $(seeds scifact-doc256) \
    --name minilm --name soup --name 3-seeds --qrels ../shared/data/scifact/qrels/test.tsv -m nDCG@10 -m RR@10
