"""The health curves of a training run: dev measure against training loss, the score distributions of
positives and negatives, their separation and the within-query spread, with the verdicts' steps marked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from rankscope.inspect.health import HEALTH_KEY, Verdict
from rankscope.inspect.trajectory import default_window, smooth

MARKS = {"collapse": "#d62728", "overfitting": "#ff7f0e", "no-gain": "#7f7f7f"}


def _series(rows: Sequence[Mapping[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    pts = [(r["step"], r[HEALTH_KEY].get(key)) for r in rows if isinstance(r.get(HEALTH_KEY), dict)]
    pts = [(s, v) for s, v in pts if isinstance(v, int | float)]
    return np.array([s for s, _ in pts], dtype=float), np.array([v for _, v in pts], dtype=float)


def health_figure(
    rows: Sequence[Mapping[str, Any]],
    loss_rows: Sequence[Mapping[str, Any]],
    measure: str | None,
    found: Sequence[Verdict] = (),
) -> Figure:
    """Three panels over steps: dev measure + smoothed training loss; positive and negative scores (mean
    +- std); AUC separation + within-query spread."""
    fig = Figure(figsize=(11, 9.5))
    axes = fig.subplots(3, 1, sharex=True)
    ax = axes[0]
    if measure:
        pts = [(r["step"], r[measure]) for r in rows if isinstance(r.get(measure), int | float)]
        ax.plot([s for s, _ in pts], [v for _, v in pts], marker="o", color="#1b9e77", label=f"dev {measure}")
        ax.set_ylabel(f"dev {measure}")
    if loss_rows:
        steps = np.array([r["step"] for r in loss_rows], dtype=float)
        loss = np.array([r["loss"] for r in loss_rows], dtype=float)
        twin = ax.twinx()
        twin.plot(
            steps, smooth(loss, default_window(len(loss))), color="#d95f02", lw=1.5, label="training loss"
        )
        twin.set_ylabel("training loss (smoothed)")
        twin.legend(fontsize=8, loc="upper right")
    ax.set_title("Training health on dev data")
    ax = axes[1]
    for name, colour in (("pos", "#1b9e77"), ("neg", "#7570b3")):
        s, m = _series(rows, f"{name}_mean")
        _, sd = _series(rows, f"{name}_std")
        if len(s):
            label = "positives" if name == "pos" else "negatives"
            ax.plot(s, m, marker="o", color=colour, label=f"{label} (mean ± std)")
            if len(sd) == len(m):
                ax.fill_between(s, m - sd, m + sd, color=colour, alpha=0.15)
    ax.set_ylabel("dev score")
    ax = axes[2]
    s, auc = _series(rows, "auc")
    if len(s):
        ax.plot(s, auc, marker="o", color="#e7298a", label="separation (per-query AUC)")
        ax.axhline(0.5, color="#999999", ls=":", lw=1)
    ax.set_ylabel("AUC")
    s, spread = _series(rows, "spread")
    if len(s):
        twin = ax.twinx()
        twin.plot(s, spread, marker="s", color="#666666", label="within-query spread (std)")
        twin.set_ylabel("within-query std")
        twin.legend(fontsize=8, loc="upper right")
    for v in found:
        if v.step is not None and v.kind in MARKS:
            for a in axes:
                a.axvline(v.step, color=MARKS[v.kind], ls="--", lw=1.2, label=f"{v.kind}: step {v.step}")
    for a in axes:
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=8, loc="upper left")
    axes[-1].set_xlabel("step")
    fig.tight_layout()
    return fig
