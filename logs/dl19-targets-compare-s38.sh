#!/usr/bin/env bash
# Session 38: the paired tests of the DL19 targets test (logs/dl19-targets-s38.sh), written before any model was
# scored. Each arm's seeds as one run (each query's mean over its seeds), 43 queries, nDCG@10 and RR(rel=2)@10:
# the arms against zero-shot query likelihood at the same 128-token budget (Holm over the arms) and against
# zero-shot MiniLM (the best zero-shot scorer on DL19); the arms against each other (--pairs, as the dev-part
# section compared them); each seed alone; the training losses (the first and last 10 steps, against the
# dev-part runs' in logs/rank-compare-s35.log and logs/targets-compare-s36.log); --power.
cd "$(dirname "$0")/.."
source logs/study.sh
dl19_tests
dl19_minilm
BOTH=$(seeds "$D/targets-attn+mlp_seed-*/run.trec")
ATTN=$(seeds "$D/targets-attn_seed-*/run.trec")
MLP=$(seeds "$D/targets-mlp_seed-*/run.trec")
echo "== seeds scored: both ${BOTH//[^,]/} attn ${ATTN//[^,]/} mlp ${MLP//[^,]/} (commas: one fewer than the seeds)"
echo "== against zero-shot query likelihood at 128 tokens (Holm over the 3 arms)"
$RS compare $D/zero-shot-ql-128/run.trec $BOTH $ATTN $MLP --name zero-shot-ql-128 --name lora-attn+mlp \
  --name lora-attn --name lora-mlp --qrels $Q "${M[@]}"
echo "== against zero-shot MiniLM (Holm over the 3 arms)"
$RS compare runs/dl19-minilm/run.trec $BOTH $ATTN $MLP --name zero-shot-minilm --name lora-attn+mlp \
  --name lora-attn --name lora-mlp --qrels $Q "${M[@]}"
echo "== the arms against each other (pairs, Holm over the 3)"
$RS compare $BOTH $ATTN $MLP --name lora-attn+mlp --name lora-attn --name lora-mlp --qrels $Q "${M[@]}" --pairs
echo "== each seed against zero-shot query likelihood, nDCG@10"
for f in ${BOTH//,/ } ${ATTN//,/ } ${MLP//,/ }; do
  echo "-- $f"; $RS compare $D/zero-shot-ql-128/run.trec $f --qrels $Q -m nDCG@10 | grep "^nDCG@10"
done
echo "== the mean training loss over the first and last 10 steps of each run"
mean_losses runs/dl19-targets/runs/*/loss.jsonl
echo "== the arms against each other, with --power"
$RS compare $BOTH $ATTN $MLP --name lora-attn+mlp --name lora-attn --name lora-mlp --qrels $Q -m nDCG@10 --pairs --power
