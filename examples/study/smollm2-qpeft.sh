#!/usr/bin/env bash
# Q-PEFT-R / Q-PEFT-A against LoRA r=2 (matched parameters), 3 seeds, seed-major so that an interrupted
# study still has every method's first seeds; rerunning the script resumes where it stopped.
set -euo pipefail
RS=${RS:-.venv/bin/rankscope}
for s in 0 1 2; do
  $RS sweep examples/study/smollm2-qpeft.yaml --out runs/study-smollm2-qpeft --only "$s/3" --resume
  $RS sweep examples/study/smollm2-qpeft-lora.yaml --out runs/study-smollm2-qpeft-lora --only "$s/3" --resume
done
