"""The seed studies (examples/study/minilm-*.yaml, smollm2-qpeft*.yaml) against zero-shot and against the
first configuration listed (the recipe's own setting: attention + MLP in all layers for the MiniLM
studies; LoRA r=8 at lr 2e-4 for the rank and lr studies; LoRA r=2 for the Q-PEFT study): each query's
value averaged over a configuration's 3 seeds, then paired t-tests over the queries (Holm over the
configurations), on the 139 dev-part queries or on DL19 (43 queries, BM25 top-100). Prints the seed
means too.

    .venv/bin/python examples/study/study-vs-zero-shot.py dev    # after the sweeps
    bash examples/study/minilm-study-dl19.sh
    .venv/bin/python examples/study/study-vs-zero-shot.py dl19
    .venv/bin/python examples/study/study-vs-zero-shot.py dev lora   # LoRA r=8 vs full weights
    .venv/bin/python examples/study/study-vs-zero-shot.py dev rank   # LoRA ranks 1/2/8/32
    .venv/bin/python examples/study/study-vs-zero-shot.py dev lr     # LoRA r=8 at lr 1e-3
    .venv/bin/python examples/study/study-vs-zero-shot.py dev qpeft  # SmolLM2: Q-PEFT-R/-A vs LoRA r=2
(runs/dev-minilm, runs/dl19-minilm and runs/dev600-dev.qrels come from examples/eval-best-minilm.sh;
runs/dev-ql, zero-shot SmolLM2 query likelihood on the dev part, from examples/eval-best-smollm2.sh)
"""

import sys
from pathlib import Path
from typing import NamedTuple

from rankscope.evaluate.compare import compare_values, load_qrels, load_run
from rankscope.evaluate.metrics import per_query
from rankscope.report.per_query import average_seeds


class Study(NamedTuple):
    configs: dict[str, tuple[str, str]]  # name: (sweep folder, run-name prefix)
    zero_shot: dict[str, str]  # set: the zero-shot run file
    step: int = 100  # the training step whose dev run file is read


MINILM = {"dev": "runs/dev-minilm/run.trec", "dl19": "runs/dl19-minilm/run.trec"}
CONFIGS = {  # name: (sweep folder, run-name prefix)
    "attn+mlp, all layers": ("study-minilm-seeds", "targets-attn+mlp"),
    "attn, all layers": ("study-minilm-seeds", "targets-attn"),
    "mlp, all layers": ("study-minilm-seeds", "targets-mlp"),
    "attn+mlp, layers 0-2": ("study-minilm-layers", "layers-0-2"),
    "attn+mlp, layers 3-5": ("study-minilm-layers", "layers-3-5"),
}
LORA = {  # the LoRA study, compared on its own with the full-weight recipe setting
    "attn+mlp, all layers": CONFIGS["attn+mlp, all layers"],
    "LoRA r=8, attn+mlp, all layers": ("study-minilm-lora", "rank-8"),
}
RANK = {  # the LoRA rank study against r=8 (and full weights beside it)
    "LoRA r=8": LORA["LoRA r=8, attn+mlp, all layers"],
    "LoRA r=1": ("study-minilm-rank", "rank-1"),
    "LoRA r=2": ("study-minilm-rank", "rank-2"),
    "LoRA r=32": ("study-minilm-rank", "rank-32"),
    "full weights": CONFIGS["attn+mlp, all layers"],
}
LR = {  # LoRA r=8 at a 5x higher lr, against r=8 at 2e-4 (and full weights beside it)
    "LoRA r=8, lr 2e-4": LORA["LoRA r=8, attn+mlp, all layers"],
    "LoRA r=8, lr 1e-3": ("study-minilm-lora-lr", "lr-0.001"),
    "full weights": CONFIGS["attn+mlp, all layers"],
}
QPEFT = {  # Q-PEFT-R (0.66M trainable) and -A (1.67M) against LoRA r=2 on attention + MLP (0.61M)
    "LoRA r=2": ("study-smollm2-qpeft-lora", "rank-2"),
    "Q-PEFT-R": ("study-smollm2-qpeft", "name-qpeft-r"),
    "Q-PEFT-A": ("study-smollm2-qpeft", "name-qpeft-a"),
}
STUDIES = {
    "": Study(CONFIGS, MINILM),
    "lora": Study(LORA, MINILM),
    "rank": Study(RANK, MINILM),
    "lr": Study(LR, MINILM),
    "qpeft": Study(QPEFT, {"dev": "runs/dev-ql/run.trec"}, step=50),
}
SETS = {  # set: (qrels, measures)
    "dev": ("runs/dev600-dev.qrels", ["RR@10", "nDCG@10"]),
    "dl19": ("../shared/data/trec-dl-2019-passage/qrels.txt", ["nDCG@10", "RR(rel=2)@10"]),
}


def run_file(sweep: str, name: str, which: str, step: int) -> Path:
    if which == "dev":
        return Path("runs") / sweep / "runs" / name / "dev_runs" / f"step-{step}.trec"
    return Path("runs") / "study-dl19" / sweep / name / "run.trec"


def main(which: str, study: Study) -> None:
    qrels_path, measures = SETS[which]
    if which not in study.zero_shot:
        sys.exit(f"no zero-shot run for '{which}' in this study: {sorted(study.zero_shot)}")
    zero_shot, configs = study.zero_shot[which], study.configs
    qrels = load_qrels(qrels_path)

    def table(path: Path | str) -> dict:
        return per_query(load_run(str(path)), qrels, measures)

    tables, names = [table(zero_shot)], ["zero-shot"]
    for label, (sweep, prefix) in configs.items():
        files = [run_file(sweep, f"{prefix}_seed-{s}", which, study.step) for s in range(3)]
        if not all(f.is_file() for f in files):
            print(f"skip {label}: missing {[str(f) for f in files if not f.is_file()]}")
            continue
        seeds = [table(f) for f in files]
        for m in measures:
            means = [sum(t[m].values()) / len(t[m]) for t in seeds]
            print(f"{label} {m} per seed: {' / '.join(f'{x:.4f}' for x in means)}")
        tables.append(average_seeds(seeds))
        names.append(f"{label} (3 seeds)")
    for against, sub in (("zero-shot", slice(None)), (names[1] if len(names) > 1 else "", slice(1, None))):
        if len(tables[sub]) < 2:
            continue
        print(f"-- against {against}")
        for c in compare_values(tables[sub], names[sub]).comparisons:
            holm = "-" if c.p_holm is None else f"{c.p_holm:.4f}"
            print(
                f"{c.measure} {c.run}: {c.mean_baseline:.4f} -> {c.mean_run:.4f} {c.delta:+.4f} "
                f"[{c.ci_low:+.4f}, {c.ci_high:+.4f}] p={c.p_value:.4f} holm={holm} "
                f"{c.wins}/{c.ties}/{c.losses}"
            )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dev", STUDIES[sys.argv[2] if len(sys.argv) > 2 else ""])
