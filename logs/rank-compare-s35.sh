#!/usr/bin/env bash
# Session 35: the LoRA rank study's paired tests (logs/rank-s35.sh; r=2 is session 34's run of the same
# spec, logs/qpeft-r-s34.sh): each rank's 3 seeds as one run (each query's mean over the seeds), on the
# 139 dev-part queries, against zero-shot query likelihood (Holm over the ranks) and against r=2; then each
# seed; the mean training loss; --power.
cd "$(dirname "$0")/.."
source logs/study.sh
Q=runs/dev600-dev.qrels
R2=$(seeds "runs/study-smollm2-qpeft-lora/runs/rank-2_seed-*/dev_runs/step-50.trec")
R8=$(seeds "runs/study-smollm2-rank/runs/rank-8_seed-*/dev_runs/step-50.trec")
R32=$(seeds "runs/study-smollm2-rank/runs/rank-32_seed-*/dev_runs/step-50.trec")
echo "== against zero-shot query likelihood (3-seed means)"
$RS compare runs/dev-ql/run.trec $R2 $R8 $R32 --name zero-shot-ql --name lora-r2 --name lora-r8 --name lora-r32 \
  --qrels $Q -m RR@10 -m nDCG@10
echo "== against LoRA r=2 (3-seed means)"
$RS compare $R2 $R8 $R32 --name lora-r2 --name lora-r8 --name lora-r32 --qrels $Q -m RR@10 -m nDCG@10
echo "== r=32 against r=8 (3-seed means)"
$RS compare $R8 $R32 --name lora-r8 --name lora-r32 --qrels $Q -m RR@10 -m nDCG@10
echo "== each seed against zero-shot query likelihood"
for f in ${R8//,/ } ${R32//,/ }; do
  echo "-- $f"; $RS compare runs/dev-ql/run.trec $f --qrels $Q -m RR@10 | grep "^RR@10"
done
echo "== the mean training loss over the first and last 10 steps of each run"
mean_losses runs/study-smollm2-rank/runs/*/loss.jsonl
echo "== against LoRA r=2, with --power"
$RS compare $R2 $R8 $R32 --name lora-r2 --name lora-r8 --name lora-r32 --qrels $Q -m RR@10 --power
