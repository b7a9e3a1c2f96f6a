#!/usr/bin/env bash
# Session 37: after the layer-range study (logs/layers-s36.sh), the freezing study (logs/freeze-s37.sh).
cd "$(dirname "$0")/.."
while pgrep -f "logs/layers-s36.sh" > /dev/null; do sleep 60; done
bash logs/freeze-s37.sh
bash logs/dl19-study-s37.sh
