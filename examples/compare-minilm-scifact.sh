#!/usr/bin/env bash
# The paired tests of examples/minilm-scifact.yaml (docs/results.md, "SciFact's document budget, and SciFact's
# training queries in the MiniLM recipe"): its seeds (runs/minilm-scifact, -seed1, -seed2, where reranked) against
# zero-shot MiniLM on the dev part, DL19 and SciFact test (64 + 256 tokens on both sides), and against the
# fusion-distilled MiniLM seeds. Needs the rerankings listed in docs/results.md.
#   bash examples/compare-minilm-scifact.sh > logs/eval-minilm-scifact.log
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
S=runs/minilm-scifact; F=runs/minilm-fusion-teacher
seeds() { local set=$1 suffix=$2 out=""; for r in $S $S-seed1 $S-seed2; do [ -f $r-$set$suffix/run.trec ] && out="$out,$r-$set$suffix/run.trec"; done; echo ${out#,}; }
one() { local set=$1 suffix=$2; for r in $S $S-seed1 $S-seed2; do [ -f $r-$set$suffix/run.trec ] && echo $r-$set$suffix/run.trec; done; }
echo "== dev part"; $RS compare runs/dev-minilm/run.trec $(one dev) $(seeds dev) --qrels runs/dev600-dev.qrels -m RR@10 -m nDCG@10
echo "== DL19"; $RS compare runs/dl19-minilm/run.trec $(one dl19) $(seeds dl19) --qrels ../shared/data/trec-dl-2019-passage/qrels.txt -m nDCG@10 -m "RR(rel=2)@10"
Q=../shared/data/scifact/qrels/test.tsv
echo "== SciFact test, 64 + 256 tokens on both sides"; $RS compare runs/scifact-minilm-doc256/run.trec $(one scifact -doc256) $(seeds scifact -doc256) --qrels $Q -m nDCG@10 -m RR@10
echo "== SciFact test, the fusion-distilled seeds at 64 + 256 tokens"
$RS compare runs/scifact-minilm-doc256/run.trec $F-s3-scifact-doc256/run.trec $F-seed1-scifact-doc256/run.trec $F-seed2-scifact-doc256/run.trec $F-s3-scifact-doc256/run.trec,$F-seed1-scifact-doc256/run.trec,$F-seed2-scifact-doc256/run.trec --qrels $Q -m nDCG@10 -m RR@10
echo "== SciFact test, this recipe against the fusion-distilled seeds"
$RS compare $F-s3-scifact-doc256/run.trec,$F-seed1-scifact-doc256/run.trec,$F-seed2-scifact-doc256/run.trec $(seeds scifact -doc256) --qrels $Q -m nDCG@10
echo "== SciFact test, zero-shot MiniLM at 256 against 320 tokens; seeds at the training budget (256)"
$RS compare runs/scifact-minilm/run.trec runs/scifact-minilm-doc256/run.trec $(one scifact) --qrels $Q -m nDCG@10
