#!/usr/bin/env bash
# TREC DL 2022's 76 unlabelled queries as training data (issue 11): the zero-shot fusion of the MiniLM
# bi-encoder and SmolLM2 query likelihood (z-scores, query-likelihood weight 0.3, the weight the dev part of
# the 600 MS MARCO queries chose by RR@10) ranks each query's BM25 top-30; its first document is the
# positive, ranks 6-30 the hard negatives (ranks 2-5 left out as likely relevant). Writes
# runs/dl22-pseudo.jsonl for examples/full-smollm2-dl22.yaml's train.files. Needs runs/dev-minilm,
# runs/dev-ql and runs/dev600-dev.qrels from examples/eval-best-smollm2.sh; about 10 minutes on 2 cores.
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
export RANKSCOPE_MMAP_THRESHOLD=0
W=runs/fusion-dev-ql-minilm.json
[ -f $W ] || $RS fuse --reranked runs/dev-ql/run.trec --first-stage runs/dev-minilm/run.trec \
    --qrels runs/dev600-dev.qrels --measure RR@10 --norm zscore --out $W | tail -1
[ -f runs/dl22-minilm/run.trec ] || $RS rerank --dataset dl22 --candidates bm25 --model minilm-l6 \
    --scorer bi-encoder --depth 30 --out runs/dl22-minilm | tail -1
[ -f runs/dl22-ql/run.trec ] || $RS rerank --dataset dl22 --candidates bm25 --model smollm2-135m \
    --scorer query-likelihood --depth 30 --out runs/dl22-ql | tail -1
$RS fuse --reranked runs/dl22-ql/run.trec --first-stage runs/dl22-minilm/run.trec --weight $W \
    --out runs/dl22-teacher.trec --overwrite
$RS pseudo-label --dataset dl22 --candidates bm25 --teacher runs/dl22-teacher.trec --positives 1 --gap 4 \
    --depth 30 --out runs/dl22-pseudo.jsonl --overwrite
