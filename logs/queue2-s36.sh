#!/usr/bin/env bash
# Session 36: after logs/queue-s36.sh (targets, SciFact QL, rank 1), the layer-range study (logs/layers-s36.sh).
cd "$(dirname "$0")/.."
while pgrep -f "logs/queue-s36.sh" > /dev/null; do sleep 60; done
bash logs/layers-s36.sh
