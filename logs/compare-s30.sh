#!/usr/bin/env bash
# This session's paired tests (2026-12-06, midday): the soup of examples/minilm-graded.yaml's three seeds
# against zero-shot MiniLM, each seed, the seeds' per-query mean, and the minilm-scifact soup and seeds
# (the same recipe without DL21's graded judgements in full); run after
# SPEC=examples/minilm-graded.yaml bash examples/minilm-scifact-soup.sh.
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
G=runs/minilm-graded
S=runs/minilm-scifact
seeds() { echo $1-$2/run.trec,$1-seed1-$2/run.trec,$1-seed2-$2/run.trec; }
DEV="--qrels runs/dev600-dev.qrels -m RR@10 -m nDCG@10"
DL19="--qrels ../shared/data/trec-dl-2019-passage/qrels.txt -m nDCG@10 -m RR(rel=2)@10"
SCI="--qrels ../shared/data/scifact/qrels/test.tsv -m nDCG@10 -m RR@10"
for set in dev dl19 scifact-doc256; do
  case $set in dev) Z=runs/dev-minilm; M=$DEV;; dl19) Z=runs/dl19-minilm; M=$DL19;;
    *) Z=runs/scifact-minilm-doc256; M=$SCI;; esac
  echo "== $set: graded soup and its 3 seeds against zero-shot MiniLM"
  $RS compare $Z/run.trec $G-soup-$set/run.trec $(seeds $G $set) --name minilm --name graded-soup --name graded-3-seeds $M
  echo "== $set: each graded seed against zero-shot MiniLM"
  $RS compare $Z/run.trec $G-$set/run.trec $G-seed1-$set/run.trec $G-seed2-$set/run.trec $M
  echo "== $set: graded against minilm-scifact (soup against soup, 3 seeds against 3 seeds)"
  $RS compare $S-soup-$set/run.trec $G-soup-$set/run.trec --name scifact-soup --name graded-soup $M
  $RS compare $(seeds $S $set) $(seeds $G $set) --name scifact-3-seeds --name graded-3-seeds $M
done
