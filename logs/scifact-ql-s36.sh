#!/usr/bin/env bash
# Session 36: zero-shot query likelihood on SciFact test at 256 document tokens (the command of
# docs/results.md "Candidate 3: the full fine-tune for two epochs", whose run folder is gone), then the
# graded MiniLM soup and the minilm-scifact soup against it and against zero-shot MiniLM: which zero-shot
# scorer is best on SciFact, and do the soups beat it (paired).
set -euo pipefail
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
export RANKSCOPE_MMAP_THRESHOLD=0
date
[ -e runs/scifact-ql20-doc256/run.trec ] || $RS rerank --dataset scifact-test --candidates runs/scifact-bm25/candidates.jsonl.gz \
  --model smollm2-135m --scorer query-likelihood --depth 20 --max-doc-tokens 256 --out runs/scifact-ql20-doc256
date
SCI="--qrels ../shared/data/scifact/qrels/test.tsv -m nDCG@10 -m RR@10"
echo "== zero-shot scorers: MiniLM (64 + 256 tokens) against query likelihood at 256 tokens"
$RS compare runs/scifact-minilm-doc256/run.trec runs/scifact-ql20-doc256/run.trec --name minilm --name ql-doc256 $SCI
echo "== the soups against zero-shot query likelihood at 256 tokens (Holm over the two)"
$RS compare runs/scifact-ql20-doc256/run.trec runs/minilm-graded-soup-scifact-doc256/run.trec \
  runs/minilm-scifact-soup-scifact-doc256/run.trec --name ql-doc256 --name graded-soup --name minilm-scifact-soup $SCI
echo "== the same with --power"
$RS compare runs/scifact-ql20-doc256/run.trec runs/minilm-graded-soup-scifact-doc256/run.trec \
  runs/minilm-scifact-soup-scifact-doc256/run.trec --name ql-doc256 --name graded-soup --name minilm-scifact-soup \
  --qrels ../shared/data/scifact/qrels/test.tsv -m nDCG@10 --power
echo done
