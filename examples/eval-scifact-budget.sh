#!/usr/bin/env bash
# The document token budget of a fine-tuned run on SciFact, chosen on SciFact *train* queries, never on
# test (docs/results.md, issue 11): a run trained on MS MARCO passages at 128 document tokens reads the
# longer SciFact abstracts at each of BUDGETS (`rerank --max-doc-tokens`, default 128 and 256), on the
# first N train queries (smallest ids) over BM25 top-20; the budget with the highest nDCG@10 is written
# to $RUN-scifact-budget.txt for the test run (examples/eval-best-smollm2.sh reads it).
# ZERO_SHOT="--model minilm-l6 --scorer bi-encoder" also reranks the zero-shot model at each budget
# (with --max-query-tokens 64, which a bi-encoder adds to the document budget: it truncates each text at
# the sum) and writes its choice to runs/scifact-budget-<model>.txt, so both sides get a chosen budget.
#   RUN=runs/minilm-fusion-teacher-s3 BUDGETS="128 192 256" ZERO_SHOT="--model minilm-l6 --scorer bi-encoder" \
#       bash examples/eval-scifact-budget.sh
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
RUN=${RUN:-runs/full-smollm2-2ep}
N=${N:-80}
BUDGETS=${BUDGETS:-128 256}
ZERO_SHOT=${ZERO_SHOT:-}
export RANKSCOPE_MMAP_THRESHOLD=0
CAND=runs/scifact-train-bm25/candidates.jsonl.gz
[ -f $CAND ] || $RS retrieve --dataset scifact-train --k 100 --out runs/scifact-train-bm25
step() { out=$1; shift; if [ -f "$out/run.trec" ]; then echo "skip $out"; return; fi
  echo "== $out $(date +%H:%M:%S)"; "$RS" rerank "$@" --out "$out" | tail -8; }
ARGS="--dataset scifact-train --candidates $CAND --depth 20 --max-queries $N"
for T in $BUDGETS; do step $RUN-scifact-train$N-doc$T $ARGS --run $RUN --max-doc-tokens $T; done
ZS=""
if [ -n "$ZERO_SHOT" ]; then
  ZS=runs/scifact-train$N-$(echo $ZERO_SHOT | sed -E 's/.*--model ([^ ]+).*/\1/')
  for T in $BUDGETS; do step $ZS-doc$T $ARGS $ZERO_SHOT --max-query-tokens 64 --max-doc-tokens $T; done
fi
echo "done $(date +%H:%M:%S)"
Q=runs/scifact-train$N.qrels
.venv/bin/python -c "
import rankscope
c = rankscope.load_dataset('scifact-train')
keep = sorted(c.queries)[:$N]  # the queries rerank --max-queries $N keeps (smallest ids, as strings)
with open('$Q', 'w') as f:
    f.writelines(f'{q} 0 {d} {g}\n' for q in keep for d, g in c.qrels.get(q, {}).items())"
# choose(PREFIX OUT): the budget whose PREFIX-docT run reads the highest nDCG@10 (the first on a tie)
choose() {
  runs=(); names=(); for T in $BUDGETS; do runs+=("$1-doc$T/run.trec"); names+=(--name "doc$T"); done
  $RS compare "${runs[@]}" "${names[@]}" --qrels $Q -m nDCG@10 -m RR@10
  $RS compare "${runs[@]}" "${names[@]}" --qrels $Q -m nDCG@10 --json | .venv/bin/python -c "
import json, sys
rows = json.load(sys.stdin)['comparisons']
means = {rows[0]['baseline']: rows[0]['mean_baseline'], **{r['run']: r['mean_run'] for r in rows}}
best = max(means, key=lambda k: means[k])
print('nDCG@10 ' + ', '.join(f'{k} {v:.4f}' for k, v in means.items()) + f'; chosen {best[3:]}')
open('$2', 'w').write(best[3:] + '\n')"
}
choose $RUN-scifact-train$N $RUN-scifact-budget.txt
[ -n "$ZS" ] && choose $ZS runs/scifact-budget-$(basename $ZS | sed "s/scifact-train$N-//").txt
true
