#!/usr/bin/env bash
# The paired tests of examples/minilm-scifact-teacher.yaml (docs/results.md, "The SciFact recipe distilled from
# the zero-shot fusion"): seed 0 and examples/minilm-scifact.yaml's seed 0 against zero-shot MiniLM, and
# against each other, on the dev part, DL19 and SciFact test (64 + 256 tokens on both sides). Needs the
# rerankings listed in docs/results.md (logs/queue-s28.sh, logs/queue-s28b.sh).
#   bash examples/compare-minilm-scifact-teacher.sh > logs/eval-minilm-scifact-teacher.log
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
T=runs/minilm-scifact-teacher; L=runs/minilm-scifact
echo "== dev part"
$RS compare runs/dev-minilm/run.trec $L-dev/run.trec $T-dev/run.trec --qrels runs/dev600-dev.qrels -m RR@10 -m nDCG@10
$RS compare $L-dev/run.trec $T-dev/run.trec --qrels runs/dev600-dev.qrels -m RR@10
echo "== DL19"
Q=../shared/data/trec-dl-2019-passage/qrels.txt
$RS compare runs/dl19-minilm/run.trec $L-dl19/run.trec $T-dl19/run.trec --qrels $Q -m nDCG@10 -m "RR(rel=2)@10"
$RS compare $L-dl19/run.trec $T-dl19/run.trec --qrels $Q -m nDCG@10
echo "== SciFact test, 64 + 256 tokens on both sides"
Q=../shared/data/scifact/qrels/test.tsv
$RS compare runs/scifact-minilm-doc256/run.trec $L-scifact-doc256/run.trec $T-scifact-doc256/run.trec --qrels $Q -m nDCG@10 -m RR@10
$RS compare $L-scifact-doc256/run.trec $T-scifact-doc256/run.trec --qrels $Q -m nDCG@10
