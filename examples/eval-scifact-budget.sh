#!/usr/bin/env bash
# The document token budget of a fine-tuned run on SciFact, chosen on SciFact *train* queries, never on
# test (docs/results.md, issue 11): a run trained on MS MARCO passages at 128 document tokens reads the
# longer SciFact abstracts at 128 and at 256 tokens (`rerank --max-doc-tokens`), on the first N train
# queries (smallest ids) over BM25 top-20; the budget with the higher nDCG@10 is written to
# $RUN-scifact-budget.txt for the test run (examples/eval-best-smollm2.sh reads it).
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
RUN=${RUN:-runs/full-smollm2-2ep}
N=${N:-80}
export RANKSCOPE_MMAP_THRESHOLD=0
CAND=runs/scifact-train-bm25/candidates.jsonl.gz
[ -f $CAND ] || $RS retrieve --dataset scifact-train --k 100 --out runs/scifact-train-bm25
step() { out=$1; shift; if [ -f "$out/run.trec" ]; then echo "skip $out"; return; fi
  echo "== $out $(date +%H:%M:%S)"; "$RS" rerank "$@" --out "$out" | tail -8; }
ARGS="--dataset scifact-train --candidates $CAND --depth 20 --max-queries $N"
for T in 128 256; do step $RUN-scifact-train$N-doc$T $ARGS --run $RUN --max-doc-tokens $T; done
echo "done $(date +%H:%M:%S)"
Q=runs/scifact-train$N.qrels
.venv/bin/python -c "
import rankscope
c = rankscope.load_dataset('scifact-train')
keep = sorted(c.queries)[:$N]  # the queries rerank --max-queries $N keeps (smallest ids, as strings)
with open('$Q', 'w') as f:
    f.writelines(f'{q} 0 {d} {g}\n' for q in keep for d, g in c.qrels.get(q, {}).items())"
$RS compare $RUN-scifact-train$N-doc128/run.trec $RUN-scifact-train$N-doc256/run.trec --name doc128 \
    --name doc256 --qrels $Q -m nDCG@10 -m RR@10
$RS compare $RUN-scifact-train$N-doc128/run.trec $RUN-scifact-train$N-doc256/run.trec --qrels $Q -m nDCG@10 \
    --json | .venv/bin/python -c "
import json, sys
c = json.load(sys.stdin)['comparisons'][0]
budget = 256 if c['mean_run'] > c['mean_baseline'] else 128
print(f'nDCG@10 at 128: {c[\"mean_baseline\"]:.4f}, at 256: {c[\"mean_run\"]:.4f}; chosen {budget}')
open('$RUN-scifact-budget.txt', 'w').write(f'{budget}\n')"
