#!/usr/bin/env bash
# The minilm-scifact soup and zero-shot MiniLM, each fused with its BM25 first stage by weighted
# reciprocal rank fusion (k = 60); the reranker's weight chosen on the dev part by RR@10, then applied
# unchanged to DL19 (BM25 top-100) and SciFact test (BM25 top-20 reranked). The plan is in docs/results.md
# ("The MiniLM soup fused with its BM25 first stage"), committed before this ran.
set -e
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
D=../shared/data
O=runs/fuse-bm25
mkdir -p $O
DEV_BM25=$D/msmarco-passage-dev-small/bm25_top20_600q.jsonl.gz
DL19_BM25=$D/trec-dl-2019-passage/bm25_top100.jsonl.gz
SCI_BM25=runs/scifact-bm25/run.trec
for sys in minilm soup; do
  case $sys in minilm) dev=runs/dev-minilm; dl19=runs/dl19-minilm; sci=runs/scifact-minilm-doc256;;
    soup) dev=runs/minilm-scifact-soup-dev; dl19=runs/minilm-scifact-soup-dl19;
          sci=runs/minilm-scifact-soup-scifact-doc256;; esac
  echo "== $sys: the weight, chosen on the dev part by RR@10"
  $RS fuse --reranked $dev/run.trec --first-stage $DEV_BM25 --qrels runs/dev600-dev.qrels \
      --method rrf --measure RR@10 --out $O/$sys-weight.json --overwrite
  cat $O/$sys-weight.json; echo
  $RS fuse --reranked $dev/run.trec --first-stage $DEV_BM25 --weight $O/$sys-weight.json --method rrf --overwrite \
      --out $O/$sys-dev.trec
  $RS fuse --reranked $dl19/run.trec --first-stage $DL19_BM25 --weight $O/$sys-weight.json --method rrf --overwrite \
      --out $O/$sys-dl19.trec
  $RS fuse --reranked $sci/run.trec --first-stage $SCI_BM25 --weight $O/$sys-weight.json --method rrf --overwrite \
      --out $O/$sys-scifact.trec
done
DEV="--qrels runs/dev600-dev.qrels -m RR@10 -m nDCG@10"
DL19="--qrels $D/trec-dl-2019-passage/qrels.txt -m nDCG@10 -m RR(rel=2)@10"
SCI="--qrels $D/scifact/qrels/test.tsv -m nDCG@10 -m RR@10"
N="--name minilm --name minilm+bm25 --name soup+bm25"
echo "== dev part (in-sample: the weights were chosen here)"
$RS compare runs/dev-minilm/run.trec $O/minilm-dev.trec $O/soup-dev.trec $N $DEV
$RS compare $O/minilm-dev.trec $O/soup-dev.trec --name minilm+bm25 --name soup+bm25 $DEV
echo "== DL19 top-100"
$RS compare runs/dl19-minilm/run.trec $O/minilm-dl19.trec $O/soup-dl19.trec $N $DL19 --power
$RS compare $O/minilm-dl19.trec $O/soup-dl19.trec --name minilm+bm25 --name soup+bm25 $DL19
echo "== SciFact test"
$RS compare runs/scifact-minilm-doc256/run.trec $O/minilm-scifact.trec $O/soup-scifact.trec $N $SCI
$RS compare $O/minilm-scifact.trec $O/soup-scifact.trec --name minilm+bm25 --name soup+bm25 $SCI
