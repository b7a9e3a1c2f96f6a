# nDCG@10 headroom of DL19 runs (2026-12-06): the gain if the relevant documents in a run's slots were sorted by
# grade, and if the relevant documents came first in the run's own order. From the repo root:
#   .venv/bin/python logs/grade-gap-s30.py runs/dl19-minilm/run.trec runs/minilm-scifact-soup-dl19/run.trec runs/minilm-graded-soup-dl19/run.trec
import sys
from collections import defaultdict
import ir_measures
from ir_measures import nDCG
qrels = list(ir_measures.read_trec_qrels('../shared/data/trec-dl-2019-passage/qrels.txt'))
Q = defaultdict(dict)
for q in qrels: Q[q.query_id][q.doc_id] = q.relevance
def ev(rn): return ir_measures.calc_aggregate([nDCG@10], qrels, [ir_measures.ScoredDoc(q,d,s) for q,ds in rn.items() for d,s in ds.items()])[nDCG@10]
for path in sys.argv[1:]:
    run = defaultdict(dict)
    for r in ir_measures.read_trec_run(path): run[r.query_id][r.doc_id] = r.score
    g, b = {}, {}
    for q, ds in run.items():
        order = sorted(ds, key=lambda d: -ds[d])
        rel = [d for d in order if Q[q].get(d, 0) > 0]
        it = iter(sorted(rel, key=lambda d: -Q[q][d]))
        new = [next(it) if Q[q].get(d, 0) > 0 else d for d in order]
        g[q] = {d: len(new) - i for i, d in enumerate(new)}
        new2 = rel + [d for d in order if Q[q].get(d, 0) <= 0]
        b[q] = {d: len(new2) - i for i, d in enumerate(new2)}
    base = ev(run)
    print(f"{path}: nDCG@10 {base:.4f}; grades sorted within the relevant slots {ev(g):.4f} (+{ev(g)-base:.4f}); relevant first, order kept {ev(b):.4f} (+{ev(b)-base:.4f})")
