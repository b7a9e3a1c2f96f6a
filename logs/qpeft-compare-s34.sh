#!/usr/bin/env bash
# Session 34: the Q-PEFT study's paired tests on the rerun (logs/qpeft-r-s34.sh, logs/qpeft-a-s34.sh):
# each method's 3 seeds as one run (each query's mean over the seeds), on the 139 dev-part queries,
# against zero-shot query likelihood (Holm over the three methods) and against LoRA r=2; then each seed.
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
Q=runs/dev600-dev.qrels
seeds() { ls $1 | paste -sd, -; }
L=$(seeds "runs/study-smollm2-qpeft-lora/runs/rank-2_seed-*/dev_runs/step-50.trec")
R=$(seeds "runs/study-smollm2-qpeft/runs/name-qpeft-r_seed-*/dev_runs/step-50.trec")
A=$(seeds "runs/study-smollm2-qpeft-a/runs/name-qpeft-a_seed-*/dev_runs/step-50.trec")
echo "== against zero-shot query likelihood (3-seed means)"
$RS compare runs/dev-ql/run.trec $L $R $A --name zero-shot-ql --name lora-r2 --name qpeft-r --name qpeft-a \
  --qrels $Q -m RR@10 -m nDCG@10
echo "== against LoRA r=2 (3-seed means)"
$RS compare $L $R $A --name lora-r2 --name qpeft-r --name qpeft-a --qrels $Q -m RR@10 -m nDCG@10
echo "== each seed against zero-shot query likelihood"
for f in ${L//,/ } ${R//,/ } ${A//,/ }; do
  echo "-- $f"; $RS compare runs/dev-ql/run.trec $f --qrels $Q -m RR@10 | grep "^RR@10"
done
echo "== the mean training loss over the first and last 10 steps of each run"
for f in runs/study-smollm2-qpeft-lora/runs/*/loss.jsonl runs/study-smollm2-qpeft/runs/*/loss.jsonl \
  runs/study-smollm2-qpeft-a/runs/*/loss.jsonl; do
  .venv/bin/python -c "
import json, sys
rows = [json.loads(l) for l in open('$f')]
loss = [r['loss'] for r in rows if 'loss' in r]
print('$f', f'first 10 {sum(loss[:10]) / 10:.2f}', f'last 10 {sum(loss[-10:]) / 10:.2f}')"
done
echo "== against LoRA r=2, with --power"
$RS compare $L $R $A --name lora-r2 --name qpeft-r --name qpeft-a --qrels $Q -m RR@10 --power
