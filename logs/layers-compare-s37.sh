#!/usr/bin/env bash
# Session 37: the layer-range study's paired tests (logs/layers-s36.sh; all 30 layers is session 35's r=8 of the
# rank study, logs/rank-s35.sh, the same spec otherwise): each arm's 3 seeds as one run (each query's mean over
# the seeds), on the 139 dev-part queries: each third against zero-shot query likelihood (Holm over the three),
# against all layers (Holm over the three), the thirds against each other; then each seed; --power.
cd "$(dirname "$0")/.."
source logs/study.sh
Q=runs/dev600-dev.qrels
ALL=$(seeds "runs/study-smollm2-rank/runs/rank-8_seed-*/dev_runs/step-50.trec")
L0=$(seeds "runs/study-smollm2-layers/runs/layers-0-9_seed-*/dev_runs/step-50.trec")
L1=$(seeds "runs/study-smollm2-layers/runs/layers-10-19_seed-*/dev_runs/step-50.trec")
L2=$(seeds "runs/study-smollm2-layers/runs/layers-20-29_seed-*/dev_runs/step-50.trec")
echo "== against zero-shot query likelihood (3-seed means)"
$RS compare runs/dev-ql/run.trec $L0 $L1 $L2 --name zero-shot-ql --name lora-0-9 --name lora-10-19 \
  --name lora-20-29 --qrels $Q -m RR@10 -m nDCG@10
echo "== against all 30 layers (3-seed means)"
$RS compare $ALL $L0 $L1 $L2 --name lora-all --name lora-0-9 --name lora-10-19 --name lora-20-29 \
  --qrels $Q -m RR@10 -m nDCG@10
echo "== the thirds against each other (3-seed means; three pairs, Holm over them)"
$RS compare $L0 $L1 $L2 --name lora-0-9 --name lora-10-19 --name lora-20-29 --qrels $Q -m RR@10 -m nDCG@10 --pairs
echo "== each seed against zero-shot query likelihood"
for f in ${L0//,/ } ${L1//,/ } ${L2//,/ }; do
  echo "-- $f"; $RS compare runs/dev-ql/run.trec $f --qrels $Q -m RR@10 | grep "^RR@10"
done
echo "== trainable parameters"
grep -h "trainable parameters" runs/study-smollm2-layers/runs/*_seed-0/train.log
echo "== health"
grep -h "INFO health:" runs/study-smollm2-layers/runs/*/train.log | cut -c 25- | sort | uniq -c
echo "== the mean training loss over the first and last 10 steps of each run"
mean_losses runs/study-smollm2-layers/runs/*/loss.jsonl
echo "== against all 30 layers, with --power"
$RS compare $ALL $L0 $L1 $L2 --name lora-all --name lora-0-9 --name lora-10-19 --name lora-20-29 \
  --qrels $Q -m RR@10 --power
