#!/usr/bin/env bash
# Session 36: LoRA rank 1 on SmolLM2 (logs/rank1-s36.yaml) with the rank study's ranks 2 / 8 / 32 (logs/rank-s35.sh,
# logs/qpeft-r-s34.sh for r=2): each rank's 3 seeds as one run (each query's mean over the seeds), 139 dev-part queries.
cd "$(dirname "$0")/.."
source logs/study.sh
Q=runs/dev600-dev.qrels
R1=$(seeds "runs/study-smollm2-rank1/runs/rank-1_seed-*/dev_runs/step-50.trec")
R2=$(seeds "runs/study-smollm2-qpeft-lora/runs/rank-2_seed-*/dev_runs/step-50.trec")
R8=$(seeds "runs/study-smollm2-rank/runs/rank-8_seed-*/dev_runs/step-50.trec")
R32=$(seeds "runs/study-smollm2-rank/runs/rank-32_seed-*/dev_runs/step-50.trec")
echo "== against zero-shot query likelihood (3-seed means; Holm over the four ranks)"
$RS compare runs/dev-ql/run.trec $R1 $R2 $R8 $R32 --name zero-shot-ql --name lora-r1 --name lora-r2 --name lora-r8 \
  --name lora-r32 --qrels $Q -m RR@10 -m nDCG@10
echo "== against LoRA r=1 (3-seed means)"
$RS compare $R1 $R2 $R8 $R32 --name lora-r1 --name lora-r2 --name lora-r8 --name lora-r32 --qrels $Q -m RR@10 -m nDCG@10
echo "== each seed of r=1 against zero-shot query likelihood"
for f in ${R1//,/ }; do
  echo "-- $f"; $RS compare runs/dev-ql/run.trec $f --qrels $Q -m RR@10 | grep "^RR@10"
done
echo "== trainable parameters"
grep -h "trainable parameters" runs/study-smollm2-rank1/runs/rank-1_seed-0/train.log
echo "== the mean training loss over the first and last 10 steps of each run"
mean_losses runs/study-smollm2-rank1/runs/*/loss.jsonl
echo "== against LoRA r=1, with --power"
$RS compare $R1 $R2 $R8 $R32 --name lora-r1 --name lora-r2 --name lora-r8 --name lora-r32 --qrels $Q -m RR@10 --power
