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

restore_runs() {  # DIR: put each committed DL19 run file (logs/runs-dl19-s38/[STUDY/]NAME.trec.gz) back at
  local f name    # DIR/[STUDY/]NAME/run.trec
  for f in $(find logs/runs-dl19-s38 -name '*.trec.gz' | sort); do
    name=${f#logs/runs-dl19-s38/}; name=${name%.trec.gz}
    [ -f "$1/$name/run.trec" ] && continue
    mkdir -p "$1/$name" && gzip -dc "$f" > "$1/$name/run.trec.tmp" && mv "$1/$name/run.trec.tmp" "$1/$name/run.trec"
  done
}

dl19_rerank() {  # NAME ARGS...: rerank DL19's BM25 top-100 into runs/dl19-study/NAME unless it is there
  local name=$1; shift
  [ -f "runs/dl19-study/$name/run.trec" ] && return 0
  date; echo "== $name"
  $RS rerank --dataset dl19 --candidates bm25 --depth 100 --out "runs/dl19-study/$name" "$@" || echo "FAILED $name"
}

dl19_tests() {  # the DL19 paired tests' settings (Q, D, M), with the committed run files put back
  Q=../shared/data/trec-dl-2019-passage/qrels.txt
  D=runs/dl19-study
  M=(-m nDCG@10 -m "RR(rel=2)@10")
  restore_runs $D
}

dl19_minilm() {  # runs/dl19-minilm/run.trec, zero-shot MiniLM: the committed copy, else scored
  [ -f runs/dl19-minilm/run.trec ] && return 0
  mkdir -p runs/dl19-minilm
  if [ -f $D/zero-shot-minilm/run.trec ]; then cp $D/zero-shot-minilm/run.trec runs/dl19-minilm/; return 0; fi
  $RS rerank --dataset dl19 --candidates bm25 --model minilm-l6 --scorer bi-encoder --depth 100 \
    --out runs/dl19-minilm > /dev/null
}
