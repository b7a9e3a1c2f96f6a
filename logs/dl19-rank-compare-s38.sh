#!/usr/bin/env bash
# Session 38: the paired tests of the DL19 rank test (logs/dl19-rank-s38.sh; r = 8 is the targets test's attention
# + MLP arm), written before any model was scored. Each rank's seeds as one run (each query's mean over its
# seeds), 43 queries, nDCG@10 and RR(rel=2)@10: against zero-shot query likelihood at 128 tokens and zero-shot
# MiniLM (Holm over the ranks), then the ranks against each other (--pairs), each seed alone, the training
# losses, --power.
cd "$(dirname "$0")/.."
source logs/study.sh
dl19_tests
dl19_minilm
R1=$(seeds "$D/rank-1_seed-*/run.trec")
R8=$(seeds "$D/targets-attn+mlp_seed-*/run.trec")
R32=$(seeds "$D/rank-32_seed-*/run.trec")
echo "== seeds scored: r1 ${R1//[^,]/} r8 ${R8//[^,]/} r32 ${R32//[^,]/} (commas: one fewer than the seeds)"
echo "== against zero-shot query likelihood at 128 tokens (Holm over the 3 ranks)"
$RS compare $D/zero-shot-ql-128/run.trec $R1 $R8 $R32 --name zero-shot-ql-128 --name r1 --name r8 --name r32 \
  --qrels $Q "${M[@]}"
echo "== against zero-shot MiniLM (Holm over the 3 ranks)"
$RS compare runs/dl19-minilm/run.trec $R1 $R8 $R32 --name zero-shot-minilm --name r1 --name r8 --name r32 \
  --qrels $Q "${M[@]}"
echo "== the ranks against each other (pairs, Holm over the 3)"
$RS compare $R1 $R8 $R32 --name r1 --name r8 --name r32 --qrels $Q "${M[@]}" --pairs
echo "== each seed against zero-shot query likelihood, nDCG@10"
for f in ${R1//,/ } ${R32//,/ }; do
  echo "-- $f"; $RS compare $D/zero-shot-ql-128/run.trec $f --qrels $Q -m nDCG@10 | grep "^nDCG@10"
done
echo "== the mean training loss over the first and last 10 steps of each run"
mean_losses runs/dl19-rank/runs/*/loss.jsonl
echo "== the ranks against each other, with --power"
$RS compare $R1 $R8 $R32 --name r1 --name r8 --name r32 --qrels $Q -m nDCG@10 --pairs --power
