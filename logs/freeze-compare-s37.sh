#!/usr/bin/env bash
# Session 37: the freezing study's paired tests (logs/freeze-s37.sh): full weights of layers 20-29 (layers 0-19
# frozen), 3 seeds as one run (each query's mean over the seeds), on the 139 dev-part queries, against zero-shot
# query likelihood, and against LoRA r=8 in layers 20-29 and in all layers (Holm over the two); each seed; --power.
cd "$(dirname "$0")/.."
source logs/study.sh
Q=runs/dev600-dev.qrels
ALL=$(seeds "runs/study-smollm2-rank/runs/rank-8_seed-*/dev_runs/step-50.trec")
L2=$(seeds "runs/study-smollm2-layers/runs/layers-20-29_seed-*/dev_runs/step-50.trec")
FR=$(seeds "runs/study-smollm2-freeze/runs/layers-20-29_seed-*/dev_runs/step-50.trec")
echo "== against zero-shot query likelihood (3-seed means)"
$RS compare runs/dev-ql/run.trec $FR --name zero-shot-ql --name freeze-20-29 --qrels $Q -m RR@10 -m nDCG@10
echo "== freezing against LoRA in layers 20-29 and in all layers (3-seed means)"
$RS compare $FR $L2 $ALL --name freeze-20-29 --name lora-20-29 --name lora-all --qrels $Q -m RR@10 -m nDCG@10
echo "== each seed against zero-shot query likelihood"
for f in ${FR//,/ }; do
  echo "-- $f"; $RS compare runs/dev-ql/run.trec $f --qrels $Q -m RR@10 | grep "^RR@10"
done
echo "== trainable parameters and health"
grep -h "trainable parameters" runs/study-smollm2-freeze/runs/*_seed-0/train.log
grep -h "INFO health:" runs/study-smollm2-freeze/runs/*/train.log | cut -c 25- | sort | uniq -c
echo "== the mean training loss over the first and last 10 steps of each run"
mean_losses runs/study-smollm2-freeze/runs/*/loss.jsonl
echo "== with --power"
$RS compare $FR $L2 $ALL --name freeze-20-29 --name lora-20-29 --name lora-all --qrels $Q -m RR@10 --power
