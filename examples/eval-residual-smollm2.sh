#!/usr/bin/env bash
# Evaluation of examples/residual-smollm2.yaml (docs/results.md, issue 11): the residual QL fine-tune
# fused with the MiniLM bi-encoder (weight chosen on the dev part of the 600 MS MARCO queries, RR@10,
# z-scores) against MiniLM alone, zero-shot QL alone and the zero-shot fusion of the two (the control:
# what the fine-tune adds), on the dev part, DL19 BM25 top-100 and SciFact test top-20. Reuses the
# zero-shot runs of examples/eval-best-minilm.sh (run it first) and skips finished outputs.
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
RUN=${RUN:-runs/residual}
CKPT=${CKPT:-final}
step() { out=$1; shift; if [ -f "$out/run.trec" ]; then echo "skip $out"; return; fi
  echo "== $out $(date +%H:%M:%S)"; "$RS" rerank "$@" --out "$out"; }
SCI=runs/scifact-bm25/candidates.jsonl.gz
DL=../shared/data/trec-dl-2019-passage/qrels.txt
SQ=../shared/data/scifact/qrels/test.tsv
step $RUN-dev --dataset msmarco-dev600-dev --candidates bm25 --run $RUN --checkpoint $CKPT --depth 20
fuse() { $RS fuse --reranked "$1" --first-stage "$2" "${@:3}" --overwrite; }
fuse $RUN-dev/run.trec runs/dev-minilm/run.trec --qrels runs/dev600-dev.qrels --measure RR@10 --norm zscore \
    --out $RUN-fusion-dev.json
fuse $RUN-dev/run.trec runs/dev-minilm/run.trec --weight $RUN-fusion-dev.json --out $RUN-dev-fused.trec
fuse runs/dev-ql/run.trec runs/dev-minilm/run.trec --weight runs/fusion-dev-ql.json --out runs/dev-fused-ql.trec
$RS compare runs/dev-minilm/run.trec $RUN-dev-fused.trec runs/dev-fused-ql.trec $RUN-dev/run.trec \
    --name minilm --name residual+minilm --name zero-shot-fusion --name residual-alone \
    --qrels runs/dev600-dev.qrels -m RR@10 -m nDCG@10
step $RUN-dl19 --dataset dl19 --candidates bm25 --run $RUN --checkpoint $CKPT --depth 100
step $RUN-scifact --dataset scifact-test --candidates $SCI --run $RUN --checkpoint $CKPT --depth 20
for set in dl19 scifact; do
  fuse $RUN-$set/run.trec runs/$set-minilm/run.trec --weight $RUN-fusion-dev.json --out $RUN-$set-fused.trec
done
$RS compare runs/dl19-minilm/run.trec $RUN-dl19-fused.trec runs/dl19-fused-ql.trec $RUN-dl19/run.trec \
    --name minilm --name residual+minilm --name zero-shot-fusion --name residual-alone \
    --qrels $DL -m nDCG@10 -m "RR(rel=2)@10"
$RS compare runs/dl19-fused-ql.trec $RUN-dl19-fused.trec --name zero-shot-fusion --name residual+minilm \
    --qrels $DL -m nDCG@10 -m "RR(rel=2)@10"
$RS compare runs/scifact-ql20/run.trec $RUN-scifact-fused.trec runs/scifact-minilm/run.trec \
    runs/scifact-fused-ql.trec --name ql --name residual+minilm --name minilm --name zero-shot-fusion \
    --qrels $SQ -m nDCG@10 -m RR@10
$RS compare runs/scifact-fused-ql.trec $RUN-scifact-fused.trec --name zero-shot-fusion --name residual+minilm \
    --qrels $SQ -m nDCG@10 -m RR@10
