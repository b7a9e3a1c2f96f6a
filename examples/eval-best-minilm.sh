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
# The fine-tune fused with zero-shot SmolLM2 query likelihood: the weight chosen on the dev part only
# (RR@10, z-scores), then applied unchanged to DL19 and SciFact; the zero-shot fusion (MiniLM + QL, its own
# dev-chosen weight) is the control that says what the fine-tune adds.
QL="--model smollm2-135m --scorer query-likelihood"
step runs/dev-ql --dataset msmarco-dev600-dev --candidates bm25 $QL --depth 20
step runs/dl19-ql --dataset dl19 --candidates bm25 $QL --depth 100
step runs/scifact-ql20 --dataset scifact-test --candidates $SCI $QL --depth 20
fuse() { $RS fuse --reranked "$1" --first-stage "$2" "${@:3}" --overwrite; }
fuse runs/dev-ql/run.trec $RUN-dev/run.trec --qrels runs/dev600-dev.qrels --measure RR@10 --norm zscore \
    --out $RUN-fusion-ql.json
fuse runs/dev-ql/run.trec runs/dev-minilm/run.trec --qrels runs/dev600-dev.qrels --measure RR@10 --norm zscore \
    --out runs/fusion-dev-ql.json
for set in dl19 scifact; do
  ql=runs/$set-ql/run.trec; [ $set = scifact ] && ql=runs/scifact-ql20/run.trec
  fuse $ql $RUN-$set/run.trec --weight $RUN-fusion-ql.json --out $RUN-$set-fused-ql.trec
  fuse $ql runs/$set-minilm/run.trec --weight runs/fusion-dev-ql.json --out runs/$set-fused-ql.trec
done
$RS compare runs/dl19-minilm/run.trec $RUN-dl19-fused-ql.trec runs/dl19-fused-ql.trec \
    --name minilm --name fine-tune+ql --name zero-shot-fusion \
    --qrels ../shared/data/trec-dl-2019-passage/qrels.txt -m nDCG@10 -m "RR(rel=2)@10"
$RS compare runs/scifact-minilm/run.trec $RUN-scifact-fused-ql.trec runs/scifact-fused-ql.trec \
    --name minilm --name fine-tune+ql --name zero-shot-fusion \
    --qrels ../shared/data/scifact/qrels/test.tsv -m nDCG@10 -m RR@10
