#!/usr/bin/env bash
# The fine-tuned SmolLM2 run fused with the MiniLM bi-encoder, against zero-shot query likelihood fused the
# same way (docs/results.md, issue 11). Each fusion weight is chosen on the dev part of the 600 MS MARCO
# queries (z-scores, by RR@10) and applied unchanged to DL19 and SciFact test. Needs the run files of
# examples/eval-best-smollm2.sh (RUN defaults to runs/full-smollm2-2ep, examples/best-smollm2.yaml's run);
# takes seconds.
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
RUN=${RUN:-runs/full-smollm2-2ep}
F=$RUN-fusion
mkdir -p $F
$RS fuse --reranked $RUN-dev/run.trec --first-stage runs/dev-minilm/run.trec --qrels runs/dev600-dev.qrels \
    --measure RR@10 --norm zscore --out $F/fusion-dev-ft.json --overwrite | tail -1
$RS fuse --reranked runs/dev-ql/run.trec --first-stage runs/dev-minilm/run.trec --qrels runs/dev600-dev.qrels \
    --measure RR@10 --norm zscore --out $F/fusion-dev-ql.json --overwrite | tail -1
SCIDOC=$(cat $RUN-scifact-budget.txt 2>/dev/null)  # as examples/eval-best-smollm2.sh names its SciFact run
for set in dl19 scifact; do
  ql=runs/$set-ql/run.trec; ft=$RUN-$set/run.trec
  [ $set = scifact ] && ql=runs/scifact-ql20/run.trec && ft=$RUN-scifact${SCIDOC:+-doc$SCIDOC}/run.trec
  $RS fuse --reranked $ft --first-stage runs/$set-minilm/run.trec --weight $F/fusion-dev-ft.json \
      --norm zscore --out $F/$set-fused-ft.trec --overwrite
  $RS fuse --reranked $ql --first-stage runs/$set-minilm/run.trec --weight $F/fusion-dev-ql.json \
      --norm zscore --out $F/$set-fused-ql.trec --overwrite
done
D=../shared/data/trec-dl-2019-passage/qrels.txt
S=../shared/data/scifact/qrels/test.tsv
$RS compare runs/dl19-minilm/run.trec $F/dl19-fused-ql.trec $F/dl19-fused-ft.trec --name minilm \
    --name fused-zero-shot --name fused-ft --qrels $D -m nDCG@10 -m "RR(rel=2)@10"
$RS compare $F/dl19-fused-ql.trec $F/dl19-fused-ft.trec --name fused-zero-shot --name fused-ft --qrels $D \
    -m nDCG@10 -m "RR(rel=2)@10"
$RS compare runs/scifact-minilm/run.trec $F/scifact-fused-ql.trec $F/scifact-fused-ft.trec --name minilm \
    --name fused-zero-shot --name fused-ft --qrels $S -m nDCG@10 -m RR@10
$RS compare $F/scifact-fused-ql.trec $F/scifact-fused-ft.trec --name fused-zero-shot --name fused-ft --qrels $S \
    -m nDCG@10 -m RR@10
