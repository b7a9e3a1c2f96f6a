#!/usr/bin/env bash
# Evaluation of examples/distill-smollm2.yaml (docs/results.md, issue 11): zero-shot baselines and the
# trained run on DL19 top-100, the dev part of the 600 MS MARCO queries and SciFact test; skips finished outputs.
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
while [ ! -f runs/best-smollm2/summary.json ]; do sleep 30; done  # after training
step() { out=$1; shift; if [ -f "$out/run.trec" ]; then echo "skip $out"; return; fi
  echo "== $out $(date +%H:%M:%S)"; /usr/bin/time -v "$RS" rerank "$@" --out "$out" 2>&1 | grep -v -E "^\s+(Command|User|System|Percent|Average|Minor|Major|Voluntary|Involuntary|Swaps|File|Socket|Signals|Page|Exit|Exit status)" ; }
SCI=runs/scifact-bm25/candidates.jsonl.gz
step runs/dl19-minilm --dataset dl19 --candidates bm25 --model minilm-l6 --scorer bi-encoder --depth 100
step runs/dl19-best --dataset dl19 --candidates bm25 --run runs/best-smollm2 --depth 100
step runs/dev-minilm --dataset msmarco-dev600-dev --candidates bm25 --model minilm-l6 --scorer bi-encoder --depth 20
step runs/dev-best --dataset msmarco-dev600-dev --candidates bm25 --run runs/best-smollm2 --depth 20
[ -f $SCI ] || $RS retrieve --dataset scifact-test --k 100 --out runs/scifact-bm25
step runs/scifact-minilm --dataset scifact-test --candidates $SCI --model minilm-l6 --scorer bi-encoder --depth 20
step runs/scifact-best --dataset scifact-test --candidates $SCI --run runs/best-smollm2 --depth 20
step runs/dl19-ql --dataset dl19 --candidates bm25 --model smollm2-135m --scorer query-likelihood --depth 100
step runs/dev-ql --dataset msmarco-dev600-dev --candidates bm25 --model smollm2-135m --scorer query-likelihood --depth 20
step runs/scifact-ql --dataset scifact-test --candidates $SCI --model smollm2-135m --scorer query-likelihood --depth 20
echo "done $(date +%H:%M:%S)"
# paired tests and the dev-chosen fusion (docs/results.md)
D=../shared/data/trec-dl-2019-passage
.venv/bin/python -c "
import rankscope
c = rankscope.load_dataset('msmarco-dev600-dev')
with open('runs/dev600-dev.qrels', 'w') as f:
    f.writelines(f'{q} 0 {d} {g}\n' for q, docs in c.qrels.items() for d, g in docs.items())"
$RS fuse --reranked runs/dev-best/run.trec --first-stage runs/dev-minilm/run.trec --qrels runs/dev600-dev.qrels \
    --measure RR@10 --norm zscore --out runs/fusion-dev.json --overwrite
$RS fuse --reranked runs/dl19-best/run.trec --first-stage runs/dl19-minilm/run.trec --weight runs/fusion-dev.json \
    --out runs/dl19-fused.trec --overwrite
$RS compare runs/dl19-minilm/run.trec runs/dl19-fused.trec runs/dl19-best/run.trec --name minilm --name fused-0.3 \
    --name best-smollm2 --qrels $D/qrels.txt -m nDCG@10 -m "RR(rel=2)@10"
$RS compare runs/dev-minilm/run.trec runs/dev-best/run.trec --name minilm --name best-smollm2 \
    --qrels runs/dev600-dev.qrels -m RR@10 -m nDCG@10
