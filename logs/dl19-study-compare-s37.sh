#!/usr/bin/env bash
# Session 37: the paired tests of item 8's DL19 test (logs/dl19-study-s37.sh), each arm's 3 seeds as one run
# (each query's mean over the seeds), 43 queries, nDCG@10 and RR(rel=2)@10: every arm against zero-shot query
# likelihood at the same 128-token budget (Holm over the arms) and against zero-shot MiniLM; then within each
# study the comparisons its dev-part section made. Run it when runs/dl19-study holds every model.
cd "$(dirname "$0")/.."
RS=.venv/bin/rankscope
Q=../shared/data/trec-dl-2019-passage/qrels.txt
D=runs/dl19-study
M=(-m nDCG@10 -m "RR(rel=2)@10")
arm() { ls $D/$1_seed-*/run.trec | paste -sd, -; }
ARMS=(rank-1 rank-2 rank-8 rank-32 targets-attn targets-mlp layers-0-9 layers-10-19 layers-20-29 freeze-20-29 qpeft-r qpeft-a)
RUNS=(); NAMES=()
for a in "${ARMS[@]}"; do RUNS+=("$(arm $a)"); NAMES+=(--name "$a"); done
echo "== every arm against zero-shot query likelihood at 128 tokens (Holm over the 12 arms)"
$RS compare $D/zero-shot-ql-128/run.trec "${RUNS[@]}" --name zero-shot-ql-128 "${NAMES[@]}" --qrels $Q "${M[@]}"
echo "== every arm against zero-shot MiniLM (the best zero-shot scorer on DL19; Holm over the 12 arms)"
$RS compare runs/dl19-minilm/run.trec "${RUNS[@]}" --name zero-shot-minilm "${NAMES[@]}" --qrels $Q "${M[@]}"
echo "== ranks against each other (pairs, Holm over the 6)"
$RS compare $(arm rank-1) $(arm rank-2) $(arm rank-8) $(arm rank-32) --name r1 --name r2 --name r8 --name r32 \
  --qrels $Q "${M[@]}" --pairs
echo "== attention only and MLP only against both (r = 8, all layers), then each other"
$RS compare $(arm rank-8) $(arm targets-attn) $(arm targets-mlp) --name both --name attn --name mlp --qrels $Q \
  "${M[@]}" --pairs
echo "== the thirds against all layers, then each other"
$RS compare $(arm rank-8) $(arm layers-0-9) $(arm layers-10-19) $(arm layers-20-29) --name all --name l0-9 \
  --name l10-19 --name l20-29 --qrels $Q "${M[@]}"
$RS compare $(arm layers-0-9) $(arm layers-10-19) $(arm layers-20-29) --name l0-9 --name l10-19 --name l20-29 \
  --qrels $Q "${M[@]}" --pairs
echo "== freezing (full weights of layers 20-29) against LoRA in layers 20-29 and in all layers"
$RS compare $(arm freeze-20-29) $(arm layers-20-29) $(arm rank-8) --name freeze-20-29 --name lora-20-29 \
  --name lora-all --qrels $Q "${M[@]}"
echo "== Q-PEFT-R and Q-PEFT-A against LoRA r = 2 (matched trainable parameters)"
$RS compare $(arm rank-2) $(arm qpeft-r) $(arm qpeft-a) --name lora-r2 --name qpeft-r --name qpeft-a --qrels $Q "${M[@]}"
echo "== each model alone, nDCG@10"
for f in $D/*/metrics.json; do echo "$f $(python3 -c "import json,sys; print(json.load(open('$f')).get('nDCG@10'))")"; done
echo "== sensitivity of the arms against zero-shot QL"
$RS compare $D/zero-shot-ql-128/run.trec "${RUNS[@]}" --name zero-shot-ql-128 "${NAMES[@]}" --qrels $Q -m nDCG@10 --power
