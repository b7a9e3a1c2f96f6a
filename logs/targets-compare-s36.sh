#!/usr/bin/env bash
# Session 36: the LoRA targets study's paired tests (logs/targets-s36.sh; attention + MLP is session 35's r=8
# of the rank study, logs/rank-s35.sh, the same spec otherwise): each arm's 3 seeds as one run (each query's
# mean over the seeds), on the 139 dev-part queries, against zero-shot query likelihood (Holm over the arms)
# and against attention + MLP; then each seed; the mean training loss; --power.
cd "$(dirname "$0")/.."
source logs/study.sh
Q=runs/dev600-dev.qrels
BOTH=$(seeds "runs/study-smollm2-rank/runs/rank-8_seed-*/dev_runs/step-50.trec")
ATTN=$(seeds "runs/study-smollm2-targets/runs/targets-attn_seed-*/dev_runs/step-50.trec")
MLP=$(seeds "runs/study-smollm2-targets/runs/targets-mlp_seed-*/dev_runs/step-50.trec")
echo "== against zero-shot query likelihood (3-seed means)"
$RS compare runs/dev-ql/run.trec $BOTH $ATTN $MLP --name zero-shot-ql --name lora-attn+mlp --name lora-attn \
  --name lora-mlp --qrels $Q -m RR@10 -m nDCG@10
echo "== against attention + MLP (3-seed means)"
$RS compare $BOTH $ATTN $MLP --name lora-attn+mlp --name lora-attn --name lora-mlp --qrels $Q -m RR@10 -m nDCG@10
echo "== MLP only against attention only (3-seed means)"
$RS compare $ATTN $MLP --name lora-attn --name lora-mlp --qrels $Q -m RR@10 -m nDCG@10
echo "== each seed against zero-shot query likelihood"
for f in ${ATTN//,/ } ${MLP//,/ }; do
  echo "-- $f"; $RS compare runs/dev-ql/run.trec $f --qrels $Q -m RR@10 | grep "^RR@10"
done
echo "== trainable parameters"
grep -h "trainable parameters" runs/study-smollm2-targets/runs/*_seed-0/train.log runs/study-smollm2-rank/runs/rank-8_seed-0/train.log
echo "== the mean training loss over the first and last 10 steps of each run"
mean_losses runs/study-smollm2-targets/runs/*/loss.jsonl
echo "== against attention + MLP, with --power"
$RS compare $BOTH $ATTN $MLP --name lora-attn+mlp --name lora-attn --name lora-mlp --qrels $Q -m RR@10 --power
