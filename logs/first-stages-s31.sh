#!/usr/bin/env bash
# Zero-shot MiniLM and the minilm-scifact soup over DL19's SPLADE++ ED and TAS-B top-100 lists (plan in
# docs/results.md, "The MiniLM soup over DL19's stronger first stages", committed before this ran).
set -e
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
D=../shared/data/trec-dl-2019-passage
O=runs/first-stages
for fs in splade-pp tasb; do
  [ -f $O/minilm-$fs/run.trec ] || $RS rerank --dataset dl19 --candidates $fs --model minilm-l6 \
      --scorer bi-encoder --depth 100 --out $O/minilm-$fs | tail -2
  [ -f $O/soup-$fs/run.trec ] || $RS rerank --dataset dl19 --candidates $fs --run runs/minilm-scifact-soup \
      --depth 100 --out $O/soup-$fs | tail -2
done
M="--qrels $D/qrels.txt -m nDCG@10 -m RR(rel=2)@10"
for fs in splade-pp tasb; do
  f=$D/splade_pp_ed_top100.jsonl.gz; [ $fs = tasb ] && f=$D/tasb_top100.jsonl.gz
  echo "== $fs: the first stage alone against MiniLM and the soup reranking it"
  $RS compare $f $O/minilm-$fs/run.trec $O/soup-$fs/run.trec --name $fs --name minilm --name soup $M
  echo "== $fs: the soup against zero-shot MiniLM"
  $RS compare $O/minilm-$fs/run.trec $O/soup-$fs/run.trec --name minilm --name soup $M
done
