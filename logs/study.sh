# Shared by the seed-study scripts in logs/ (sourced, not run): the seed-major sweep loop, a seed group's run
# files joined by commas (one run for `rankscope compare`), and the mean training loss of each run.
RS=.venv/bin/rankscope

seed_sweep() {  # SPEC OUT: a sweep spec with 3 seeds, seed-major (--only s/3), resumable: rerun after a kill
  export RANKSCOPE_MMAP_THRESHOLD=0
  date
  for s in 0 1 2; do
    $RS sweep "$1" --out "$2" --only "$s/3" --resume; date
  done
  echo done
}

seeds() { ls $1 | paste -sd, -; }  # GLOB: the files, comma-joined

mean_losses() {  # LOSS_FILES...: the mean training loss over the first and last 10 steps of each run
  for f in "$@"; do
    .venv/bin/python -c "
import json
rows = [json.loads(l) for l in open('$f')]
loss = [r['loss'] for r in rows if 'loss' in r]
print('$f', f'first 10 {sum(loss[:10]) / 10:.2f}', f'last 10 {sum(loss[-10:]) / 10:.2f}')"
  done
}

restore_runs() {  # DIR: put each committed DL19 run file (logs/runs-dl19-s38/NAME.trec.gz) back at DIR/NAME/run.trec
  local f name
  for f in logs/runs-dl19-s38/*.trec.gz; do
    name=$(basename "$f" .trec.gz)
    [ -f "$1/$name/run.trec" ] && continue
    mkdir -p "$1/$name" && gzip -dc "$f" > "$1/$name/run.trec.tmp" && mv "$1/$name/run.trec.tmp" "$1/$name/run.trec"
  done
}
