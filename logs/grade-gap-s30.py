"""nDCG@10 headroom of DL19 runs (2026-12-06): the gain if the relevant documents in a run's slots were sorted
by grade, and if the relevant documents came first in the run's own order. From the repo root:

    .venv/bin/python logs/grade-gap-s30.py runs/dl19-minilm/run.trec runs/minilm-scifact-soup-dl19/run.trec \
        runs/minilm-graded-soup-dl19/run.trec
"""

import sys

from rankscope.data.readers import read_qrels, read_trec_run
from rankscope.evaluate.metrics import evaluate

QRELS = read_qrels("../shared/data/trec-dl-2019-passage/qrels.txt")


def ndcg(run: dict[str, dict[str, float]]) -> float:
    return evaluate(run, QRELS, ["nDCG@10"])["nDCG@10"]


def as_run(order: list[str]) -> dict[str, float]:
    return {d: float(len(order) - i) for i, d in enumerate(order)}


for path in sys.argv[1:]:
    run = read_trec_run(path)
    by_grade, relevant_first = {}, {}
    for q, scores in run.items():
        grade = QRELS.get(q, {})
        order = sorted(scores, key=lambda d: -scores[d])
        rel = [d for d in order if grade.get(d, 0) > 0]
        sorted_rel = iter(sorted(rel, key=lambda d: -grade[d]))
        by_grade[q] = as_run([next(sorted_rel) if grade.get(d, 0) > 0 else d for d in order])
        relevant_first[q] = as_run(rel + [d for d in order if grade.get(d, 0) <= 0])
    base, g, b = ndcg(run), ndcg(by_grade), ndcg(relevant_first)
    print(
        f"{path}: nDCG@10 {base:.4f}; grades sorted within the relevant slots {g:.4f} (+{g - base:.4f}); "
        f"relevant first, order kept {b:.4f} (+{b - base:.4f})"
    )
