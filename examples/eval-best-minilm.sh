#!/usr/bin/env bash
# Evaluation of examples/best-minilm.yaml (docs/results.md, issue 11): the trained bi-encoder and its
# zero-shot self on the dev part of the 600 MS MARCO queries, DL19 BM25 top-100 and SciFact test top-20,
# with paired tests; skips finished outputs. Needs runs/scifact-bm25 (rankscope retrieve, below).
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
RUN=${RUN:-runs/best-minilm}
step() { out=$1; shift; if [ -f "$out/run.trec" ]; then echo "skip $out"; return; fi
  echo "== $out $(date +%H:%M:%S)"; "$RS" rerank "$@" --out "$out"; }
SCI=runs/scifact-bm25/candidates.jsonl.gz
[ -f $SCI ] || $RS retrieve --dataset scifact-test --k 100 --out runs/scifact-bm25
step runs/dev-minilm --dataset msmarco-dev600-dev --candidates bm25 --model minilm-l6 --scorer bi-encoder --depth 20
step runs/dl19-minilm --dataset dl19 --candidates bm25 --model minilm-l6 --scorer bi-encoder --depth 100
step runs/scifact-minilm --dataset scifact-test --candidates $SCI --model minilm-l6 --scorer bi-encoder --depth 20
step $RUN-dev --dataset msmarco-dev600-dev --candidates bm25 --run $RUN --depth 20
step $RUN-dl19 --dataset dl19 --candidates bm25 --run $RUN --depth 100
step $RUN-scifact --dataset scifact-test --candidates $SCI --run $RUN --depth 20
.venv/bin/python -c "
import rankscope
c = rankscope.load_dataset('msmarco-dev600-dev')
with open('runs/dev600-dev.qrels', 'w') as f:
    f.writelines(f'{q} 0 {d} {g}\n' for q, docs in c.qrels.items() for d, g in docs.items())"
$RS compare runs/dev-minilm/run.trec $RUN-dev/run.trec --qrels runs/dev600-dev.qrels -m RR@10 -m nDCG@10
$RS compare runs/dl19-minilm/run.trec $RUN-dl19/run.trec --qrels ../shared/data/trec-dl-2019-passage/qrels.txt \
    -m nDCG@10 -m "RR(rel=2)@10"
$RS compare runs/scifact-minilm/run.trec $RUN-scifact/run.trec --qrels ../shared/data/scifact/qrels/test.tsv \
    -m nDCG@10 -m RR@10
