#!/usr/bin/env bash
# Session 38: the paired tests of logs/dl19-rest-s38.sh, written before any of its models was scored. Each arm's
# seeds as one run (each query's mean over its seeds), DL19's 43 queries, nDCG@10 and RR(rel=2)@10, the
# comparisons the dev-part sections made: the thirds against all layers (LoRA r = 8 on attention + MLP, the
# targets test's arm) and each other; freezing against LoRA in layers 20-29 and in all layers; Q-PEFT-R / -A
# against LoRA r = 2; r = 2 among the other ranks; every arm against zero-shot query likelihood at 128 tokens
# (Holm over the arms).
cd "$(dirname "$0")/.."
source logs/study.sh
dl19_tests
ALL=$(seeds "$D/targets-attn+mlp_seed-*/run.trec")
L09=$(seeds "$D/layers/layers-0-9_seed-*/run.trec")
L1019=$(seeds "$D/layers/layers-10-19_seed-*/run.trec")
L2029=$(seeds "$D/layers/layers-20-29_seed-*/run.trec")
FRZ=$(seeds "$D/freeze/layers-20-29_seed-*/run.trec")
QR=$(seeds "$D/qpeft/name-qpeft-r_seed-*/run.trec")
QA=$(seeds "$D/qpeft/name-qpeft-a_seed-*/run.trec")
R2=$(seeds "$D/qpeft-lora/rank-2_seed-*/run.trec")
echo "== every arm against zero-shot query likelihood at 128 tokens (Holm over the 7)"
$RS compare $D/zero-shot-ql-128/run.trec $L09 $L1019 $L2029 $FRZ $QR $QA $R2 --name zero-shot-ql-128 --name l0-9 \
  --name l10-19 --name l20-29 --name freeze-20-29 --name qpeft-r --name qpeft-a --name lora-r2 --qrels $Q "${M[@]}"
echo "== the thirds against all layers, then each other"
$RS compare $ALL $L09 $L1019 $L2029 --name all --name l0-9 --name l10-19 --name l20-29 --qrels $Q "${M[@]}"
$RS compare $L09 $L1019 $L2029 --name l0-9 --name l10-19 --name l20-29 --qrels $Q "${M[@]}" --pairs
echo "== freezing (full weights of layers 20-29) against LoRA in layers 20-29 and in all layers"
$RS compare $FRZ $L2029 $ALL --name freeze-20-29 --name lora-20-29 --name lora-all --qrels $Q "${M[@]}"
echo "== Q-PEFT-R and Q-PEFT-A against LoRA r = 2 (matched trainable parameters)"
$RS compare $R2 $QR $QA --name lora-r2 --name qpeft-r --name qpeft-a --qrels $Q "${M[@]}"
echo "== the four ranks against each other (pairs, Holm over the 6)"
$RS compare $(seeds "$D/rank-1_seed-*/run.trec") $R2 $ALL $(seeds "$D/rank-32_seed-*/run.trec") \
  --name r1 --name r2 --name r8 --name r32 --qrels $Q "${M[@]}" --pairs
echo "== the mean training loss over the first and last 10 steps of each run"
mean_losses runs/dl19-{layers,freeze,qpeft,qpeft-lora}/runs/*/loss.jsonl
