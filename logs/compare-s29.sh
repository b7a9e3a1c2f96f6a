#!/usr/bin/env bash
# This session's paired tests (2026-12-06): the soup of examples/minilm-scifact.yaml's three seeds against
# zero-shot MiniLM, each seed and the seeds' per-query mean; run after logs/queue-s29b.sh.
cd /work/main
RS=.venv/bin/rankscope
S=runs/minilm-scifact
seeds() { echo $S-$1/run.trec,$S-seed1-$1/run.trec,$S-seed2-$1/run.trec; }
DEV="--qrels runs/dev600-dev.qrels -m RR@10 -m nDCG@10"
DL19="--qrels ../shared/data/trec-dl-2019-passage/qrels.txt -m nDCG@10 -m RR(rel=2)@10"
SCI="--qrels ../shared/data/scifact/qrels/test.tsv -m nDCG@10 -m RR@10"
echo "== dev part: soup and the 3 seeds against zero-shot MiniLM"
$RS compare runs/dev-minilm/run.trec $S-soup-dev/run.trec $(seeds dev) --name minilm --name soup --name 3-seeds $DEV
echo "== dev part: each seed against zero-shot MiniLM"
$RS compare runs/dev-minilm/run.trec $S-dev/run.trec $S-seed1-dev/run.trec $S-seed2-dev/run.trec $DEV
echo "== dev part: soup against the seeds' mean"
$RS compare $(seeds dev) $S-soup-dev/run.trec --name 3-seeds --name soup $DEV
echo "== DL19: soup and the 3 seeds against zero-shot MiniLM"
$RS compare runs/dl19-minilm/run.trec $S-soup-dl19/run.trec $(seeds dl19) --name minilm --name soup --name 3-seeds $DL19
echo "== DL19: each seed against zero-shot MiniLM"
$RS compare runs/dl19-minilm/run.trec $S-dl19/run.trec $S-seed1-dl19/run.trec $S-seed2-dl19/run.trec $DL19
echo "== DL19: soup against the seeds' mean"
$RS compare $(seeds dl19) $S-soup-dl19/run.trec --name 3-seeds --name soup $DL19
echo "== SciFact test (64 + 256 tokens): soup and the 3 seeds against zero-shot MiniLM"
$RS compare runs/scifact-minilm-doc256/run.trec $S-soup-scifact-doc256/run.trec $(seeds scifact-doc256) --name minilm --name soup --name 3-seeds $SCI
echo "== SciFact: each seed against zero-shot MiniLM"
$RS compare runs/scifact-minilm-doc256/run.trec $S-scifact-doc256/run.trec $S-seed1-scifact-doc256/run.trec $S-seed2-scifact-doc256/run.trec $SCI
echo "== SciFact: soup against the seeds' mean"
$RS compare $(seeds scifact-doc256) $S-soup-scifact-doc256/run.trec --name 3-seeds --name soup $SCI
