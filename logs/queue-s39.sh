#!/usr/bin/env bash
# Session 39: after seed 2 of the DL19 rank test (logs/dl19-rank-s38.sh, started first), print its paired tests
# and go on with the rest of the DL19 study (logs/dl19-rest-s38.sh, seed-major, resumable).
cd "$(dirname "$0")/.."
while pgrep -f dl19-rank-s38.sh > /dev/null; do sleep 30; done
bash logs/dl19-rank-compare-s38.sh > logs/dl19-rank-compare-s38.log 2>&1
bash logs/dl19-rest-s38.sh > logs/dl19-rest-s38.log 2>&1
