"""The seed study (examples/study/minilm-seeds.yaml) against zero-shot MiniLM: each query's dev value
averaged over a configuration's 3 seeds, then paired t-tests over the 139 dev-part queries (Holm over 3).

    .venv/bin/python examples/study/minilm-seeds-vs-zero-shot.py
(after the sweep, and runs/dev-minilm and runs/dev600-dev.qrels from examples/eval-best-minilm.sh)
"""

from rankscope.evaluate.compare import compare_values, load_qrels, load_run
from rankscope.evaluate.metrics import per_query
from rankscope.report.per_query import average_seeds

QRELS = load_qrels("runs/dev600-dev.qrels")
RUNS = "runs/study-minilm-seeds/runs"
MEASURES = ["RR@10", "nDCG@10"]


def table(path: str) -> dict:
    return per_query(load_run(path), QRELS, MEASURES)


tables, names = [table("runs/dev-minilm/run.trec")], ["zero-shot"]
for config in ("attn+mlp", "attn", "mlp"):
    seeds = [table(f"{RUNS}/targets-{config}_seed-{s}/dev_runs/step-100.trec") for s in range(3)]
    tables.append(average_seeds(seeds))
    names.append(f"{config} (3 seeds)")
for c in compare_values(tables, names).comparisons:
    print(
        f"{c.measure} {c.run}: {c.mean_baseline:.4f} -> {c.mean_run:.4f} {c.delta:+.4f} "
        f"[{c.ci_low:+.4f}, {c.ci_high:+.4f}] p={c.p_value:.4f} holm={c.p_holm:.4f} "
        f"{c.wins}/{c.ties}/{c.losses}"
    )
