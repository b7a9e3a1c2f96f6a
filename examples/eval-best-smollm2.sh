#!/usr/bin/env bash
# Evaluation of examples/best-smollm2.yaml (docs/results.md, issue 11): the fully fine-tuned SmolLM2 query
# likelihood run against the best zero-shot scorers (MiniLM bi-encoder; SmolLM2 query likelihood, its own
# zero-shot self and the best single zero-shot scorer on SciFact) on the dev part of the 600 MS MARCO
# queries, DL19 BM25 top-100 and SciFact test top-20 (at the document budget eval-scifact-budget.sh chose
# on SciFact train queries, when it ran), with paired tests; skips finished outputs.
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
RUN=${RUN:-runs/full-smollm2-2ep}
export RANKSCOPE_MMAP_THRESHOLD=0
step() { out=$1; shift; if [ -f "$out/run.trec" ]; then echo "skip $out"; return; fi
  echo "== $out $(date +%H:%M:%S)"; "$RS" rerank "$@" --out "$out" | tail -8; }
SCI=runs/scifact-bm25/candidates.jsonl.gz
QL="--model smollm2-135m --scorer query-likelihood"
MINILM="--model minilm-l6 --scorer bi-encoder"
[ -f $SCI ] || $RS retrieve --dataset scifact-test --k 100 --out runs/scifact-bm25
step runs/dev-minilm --dataset msmarco-dev600-dev --candidates bm25 $MINILM --depth 20
step runs/dev-ql --dataset msmarco-dev600-dev --candidates bm25 $QL --depth 20
step $RUN-dev --dataset msmarco-dev600-dev --candidates bm25 --run $RUN --depth 20
step runs/dl19-minilm --dataset dl19 --candidates bm25 $MINILM --depth 100
step $RUN-dl19 --dataset dl19 --candidates bm25 --run $RUN --depth 100
step runs/scifact-minilm --dataset scifact-test --candidates $SCI $MINILM --depth 20
step runs/scifact-ql20 --dataset scifact-test --candidates $SCI $QL --depth 20
# the document budget chosen on SciFact train queries by examples/eval-scifact-budget.sh, if it ran
SCIDOC=$(cat $RUN-scifact-budget.txt 2>/dev/null)
SCIRUN=$RUN-scifact${SCIDOC:+-doc$SCIDOC}
step $SCIRUN --dataset scifact-test --candidates $SCI --run $RUN --depth 20 ${SCIDOC:+--max-doc-tokens $SCIDOC}
step runs/dl19-ql --dataset dl19 --candidates bm25 $QL --depth 100
echo "done $(date +%H:%M:%S)"
.venv/bin/python -c "
import rankscope
c = rankscope.load_dataset('msmarco-dev600-dev')
with open('runs/dev600-dev.qrels', 'w') as f:
    f.writelines(f'{q} 0 {d} {g}\n' for q, docs in c.qrels.items() for d, g in docs.items())"
$RS compare runs/dev-minilm/run.trec runs/dev-ql/run.trec $RUN-dev/run.trec --name minilm --name ql-zero-shot \
    --name full-ft --qrels runs/dev600-dev.qrels -m RR@10 -m nDCG@10
$RS compare runs/dev-ql/run.trec $RUN-dev/run.trec --name ql-zero-shot --name full-ft \
    --qrels runs/dev600-dev.qrels -m RR@10 -m nDCG@10
D=../shared/data/trec-dl-2019-passage
$RS compare runs/dl19-minilm/run.trec runs/dl19-ql/run.trec $RUN-dl19/run.trec --name minilm --name ql-zero-shot \
    --name full-ft --qrels $D/qrels.txt -m nDCG@10 -m "RR(rel=2)@10"
$RS compare runs/dl19-ql/run.trec $RUN-dl19/run.trec --name ql-zero-shot --name full-ft \
    --qrels $D/qrels.txt -m nDCG@10 -m "RR(rel=2)@10"
$RS compare runs/scifact-ql20/run.trec runs/scifact-minilm/run.trec $SCIRUN/run.trec --name ql-zero-shot \
    --name minilm --name full-ft --qrels ../shared/data/scifact/qrels/test.tsv -m nDCG@10 -m RR@10
