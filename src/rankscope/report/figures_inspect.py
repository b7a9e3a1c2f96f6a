"""Figures of the inspection analyses: probes per layer, PCA scatter, attention mass and its change,
adapter ablation bars and window heatmap, and a sweep's comparison."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from rankscope.inspect.ablation import AblationResult
from rankscope.inspect.attention import MEASURES, AttentionResult
from rankscope.inspect.probes import ProbeResult
from rankscope.report.figures import integer_axes, plain

BASE, TUNED = "#7f7f7f", "#d95f02"
MEASURE_TITLES = {
    "doc_to_query": "document → query",
    "query_to_doc": "query → document",
    "last_to_query": "scoring token → query",
    "last_to_doc": "scoring token → document",
}


def probe_figure(probes: ProbeResult) -> Figure:
    """Cross-validated AUC and accuracy per layer, base vs fine-tuned (bands: +-1 std over folds); dashed,
    a bi-encoder's per-layer cosine read out with no fitted weights."""
    fig = Figure(figsize=(11, 3.8))
    axes = fig.subplots(1, 2)
    layers = np.array(probes.layers)
    for ax, key in zip(axes, ("auc", "accuracy"), strict=True):
        for name, curve, colour in (("base", probes.base, BASE), ("fine-tuned", probes.tuned, TUNED)):
            if curve is None:
                continue
            mean = np.array(getattr(curve, key))
            std = np.array(getattr(curve, f"{key}_std"))
            ax.plot(layers, mean, marker="o", ms=3, color=colour, label=name)
            ax.fill_between(layers, mean - std, mean + std, color=colour, alpha=0.15)
            if key == "auc" and curve.readout_auc is not None:
                ax.plot(layers, curve.readout_auc, ls="--", color=colour, label=f"{name}: layer's cosine")
        ax.axhline(0.5, color="#aaaaaa", lw=0.8, ls=":")
        ax.set_xlabel("layer (0 = embeddings)")
        ax.set_ylabel("ROC AUC" if key == "auc" else "accuracy")
        lows = [min(getattr(c, key)) for c in (probes.base, probes.tuned) if c is not None]
        if key == "auc":
            lows += [min(c.readout_auc) for c in (probes.base, probes.tuned) if c and c.readout_auc]
        ax.set_ylim(min([0.35, *[v - 0.05 for v in lows]]), 1.02)
        integer_axes(ax, x=True, y=False)
        ax.legend(fontsize=8)
    what = "A better vs B better" if probes.task == "pairwise" else "relevant vs not"
    axes[0].set_title(f"Linear probe ({what}, {probes.folds}-fold CV)")
    fig.tight_layout()
    return fig


def pca_figure(probes: ProbeResult) -> Figure:
    """2-D PCA of chosen layers' states, coloured by label; one row per layer, base | fine-tuned."""
    layers = sorted({v.layer for v in probes.pca})
    models = [m for m in ("base", "tuned") if any(v.model == m for v in probes.pca)]
    fig = Figure(figsize=(4.2 * len(models), 3.6 * len(layers)))
    axes = np.array(fig.subplots(len(layers), len(models), squeeze=False))
    labels = np.array(probes.labels)
    names = ("B better", "A better") if probes.task == "pairwise" else ("not relevant", "relevant")
    for v in probes.pca:
        ax = axes[layers.index(v.layer), models.index(v.model)]
        pts = np.array(v.points)
        for y, colour in ((0, "#1f77b4"), (1, "#d62728")):
            sel = labels == y
            ax.scatter(pts[sel, 0], pts[sel, 1], s=8, alpha=0.6, color=colour, label=names[y])
        who = "fine-tuned" if v.model == "tuned" else "base"
        ax.set_title(f"layer {v.layer}, {who} ({sum(v.explained) * 100:.0f}% var.)", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def active_measures(att: AttentionResult) -> list[str]:
    """Measures that are not 0 everywhere (a causal prompt makes one direction impossible)."""
    views = [att.before] + ([att.after] if att.after else [])

    def used(a: np.ndarray) -> bool:  # judged on the finite values: a diverged model's nan is said apart
        finite = np.abs(a[np.isfinite(a)])
        return bool(finite.size and finite.max() > 1e-9)

    def undefined(a: np.ndarray) -> bool:  # a base model with no finite value: said, not hidden
        return not np.isfinite(a).any()

    return [m for m in MEASURES if any(used(v[m]) for v in views) or undefined(att.before[m])]


def attention_figure(att: AttentionResult) -> Figure:
    """Per-layer attention mass (mean over heads) before and after fine-tuning, one panel per measure."""
    measures = active_measures(att)
    fig = Figure(figsize=(5.5 * len(measures), 3.6))
    axes = np.atleast_1d(fig.subplots(1, len(measures)))
    for ax, m in zip(axes, measures, strict=True):
        layers = np.arange(att.before[m].shape[0])
        ax.plot(layers, att.before[m].mean(1), marker="o", ms=3, color=BASE, label="before")
        if att.after:
            ax.plot(layers, att.after[m].mean(1), marker="o", ms=3, color=TUNED, label="after")
        ax.set_title(MEASURE_TITLES[m], fontsize=10)
        ax.set_xlabel("layer")
        integer_axes(ax, x=True, y=False)
        ax.set_ylabel("attention mass (mean over heads)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def attention_change_figure(att: AttentionResult) -> Figure:
    """Layer x head heatmaps of the change (after - before), on a symmetric colour scale."""
    change = att.change or {}
    measures = [m for m in active_measures(att) if m in change]
    fig = Figure(figsize=(4.4 * len(measures), 4.2))
    axes = np.atleast_1d(fig.subplots(1, len(measures)))
    for ax, m in zip(axes, measures, strict=True):
        lim = float(np.abs(change[m]).max()) or 1.0
        im = ax.imshow(
            change[m],
            aspect="auto",
            cmap="RdBu_r",
            vmin=-lim,
            vmax=lim,
            origin="lower",
            interpolation="nearest",
        )
        ax.set_title(f"change: {MEASURE_TITLES[m]}", fontsize=10)
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        integer_axes(ax, x=True)
        fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return fig


def ablation_bars(abl: AblationResult) -> Figure:
    """Share of the fine-tuned gain kept by each preset ablation (primary measure)."""
    rows = [r for r in abl.rows if r.kind != "window"]
    fig = Figure(figsize=(max(6.0, 0.75 * len(rows) + 2), 3.8))
    ax = fig.subplots()
    shares = [r.share.get(abl.primary) for r in rows]
    vals = [np.nan if s is None else s * 100 for s in shares]
    colours = ["#1b9e77" if (v == v and v >= 50) else "#d95f02" for v in vals]
    ax.bar(range(len(rows)), vals, color=colours)
    for i, v in enumerate(vals):
        if v == v:
            ax.text(i, v + (2 if v >= 0 else -6), f"{v:.0f}%", ha="center", fontsize=8)
    ax.axhline(100, color="#555555", ls="--", lw=0.8)
    ax.axhline(0, color="#555555", lw=0.8)
    ax.set_xticks(range(len(rows)), [r.name for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"% of {abl.primary} gain kept")
    ax.set_title(
        f"{abl.title} (zero-shot {abl.zero_shot[abl.primary]:.3f}, "
        f"fine-tuned {abl.finetuned[abl.primary]:.3f})"
    )
    fig.tight_layout()
    return fig


def window_heatmap(abl: AblationResult) -> Figure:
    """Share of the gain per layer window (rows: window size, columns: start layer)."""
    sweep = abl.windows
    assert sweep is not None
    grid = np.array([[np.nan if v is None else v * 100 for v in row] for row in sweep.share], dtype=float)
    fig = Figure(figsize=(max(6.0, 0.32 * len(sweep.starts) + 2.5), 1.0 + 0.6 * len(sweep.sizes) + 1.6))
    ax = fig.subplots()
    im = ax.imshow(grid, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xticks(range(len(sweep.starts)), [str(s) for s in sweep.starts], fontsize=7)
    ax.set_yticks(range(len(sweep.sizes)), [str(s) for s in sweep.sizes])
    ax.set_xlabel("window start layer")
    ax.set_ylabel("window size")
    verb = "kept by only" if sweep.mode == "keep" else "left after dropping"
    ax.set_title(f"% of {abl.primary} gain {verb} the window's {abl.updates}", fontsize=10)
    if grid.size <= 120:
        for (r, c), v in np.ndenumerate(grid):
            if v == v:
                ax.text(c, r, f"{v:.0f}", ha="center", va="center", fontsize=7, color="white")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return fig


def sweep_figure(rows: Sequence[dict[str, Any]], metric: str, name_key: str) -> Figure:
    """One bar per sweep run for `metric`."""
    fig = Figure(figsize=(max(6.0, 0.6 * len(rows) + 2), 3.8))
    ax = fig.subplots()
    vals = [float(r[metric]) if isinstance(r.get(metric), int | float) else np.nan for r in rows]
    ax.bar(range(len(rows)), vals, color="#1b9e77")
    ax.set_xticks(
        range(len(rows)),
        [plain(r.get(name_key, i)) for i, r in enumerate(rows)],
        rotation=30,
        ha="right",
        fontsize=8,
    )
    ax.set_ylabel(metric)
    ax.set_title(f"Sweep: {metric} per run")
    fig.tight_layout()
    return fig
