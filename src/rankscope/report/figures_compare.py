"""Figures of paired run comparisons: per-query deltas against the baseline, one strip per run."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from rankscope.evaluate.compare import CompareResult, several_baselines, verdict
from rankscope.report.figures import plain

POS, NEG, TIE = "#1b9e77", "#d95f02", "#999999"


def delta_strips(result: CompareResult, measure: str, seed: int = 0) -> Figure:
    """Per-query deltas (run − baseline) of `measure` as jittered dots, one column per compared run, with
    the mean delta and its bootstrap 95% CI; the column label says finding or noise."""
    comps = [c for c in result.comparisons if c.measure == measure]
    fig = Figure(figsize=(max(5.0, 1.1 * len(comps) + 2.5), 4.2))
    ax = fig.subplots()
    rng = np.random.default_rng(seed)  # fixed jitter: the same figure each time
    for i, c in enumerate(comps):
        d = np.array(list(result.deltas(c.run, measure, c.baseline).values()))
        colours = np.where(d > 0, POS, np.where(d < 0, NEG, TIE))
        ax.scatter(i + rng.uniform(-0.28, 0.28, len(d)), d, s=12, c=colours, alpha=0.7, linewidths=0)
        ax.errorbar(
            i + 0.38,
            c.delta,
            yerr=[[c.delta - c.ci_low], [c.ci_high - c.delta]],
            fmt="D",
            color="black",
            markersize=5,
            capsize=3,
        )
    ax.axhline(0, color="black", linewidth=0.8)
    several = several_baselines(comps)
    names = [f"{plain(c.run)} − {plain(c.baseline)}" if several else plain(c.run) for c in comps]
    labels = [f"{n}\n{c.wins}/{c.ties}/{c.losses} · {verdict(c)}" for n, c in zip(names, comps, strict=True)]
    ax.set_xticks(range(len(comps)), labels, rotation=20 if len(comps) > 3 else 0, ha="center", fontsize=8)
    ax.set_xlim(-0.6, len(comps) - 0.3)
    against = "between pairs of runs" if several else f"against {plain(result.names[0])}"
    ax.set_ylabel(f"{measure}: run − " + ("baseline" if several else plain(result.names[0])))
    ax.set_title(f"Per-query {measure} deltas {against} (◆ mean, 95% CI)", fontsize=10)
    fig.tight_layout()
    return fig
