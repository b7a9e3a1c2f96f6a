"""Figures of training dynamics: gradient-norm heatmaps and group curves, weight-delta heatmaps and the
trajectory with its phase transition. Object-oriented matplotlib (no pyplot state, Agg rendering)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from rankscope.inspect.deltas import DeltaHistory
from rankscope.inspect.gradnorms import GradNormHistory
from rankscope.inspect.trajectory import Trajectory, smooth

DPI = 110
GROUP_COLOURS = {"early": "#1b9e77", "middle": "#d95f02", "late": "#7570b3"}


def plain(text: object) -> str:
    """`text` shown as written: a `$` would start matplotlib's math mode (and `$x^$` fails to draw)."""
    return str(text).replace("$", r"\$")


def save(fig: Figure, path: str | Path) -> Path:
    """Write `fig` as PNG."""
    fig.savefig(path, dpi=DPI, bbox_inches="tight", format="png")  # also into a temporary copy's name
    return Path(path)


def thirds(n_layers: int) -> dict[str, range]:
    """Early / middle / late layer groups (as equal as possible)."""
    cuts = [0, round(n_layers / 3), round(2 * n_layers / 3), n_layers]
    return {name: range(cuts[i], cuts[i + 1]) for i, name in enumerate(("early", "middle", "late"))}


def _step_edges(steps: np.ndarray) -> np.ndarray:
    if len(steps) == 1:
        return np.array([steps[0] - 0.5, steps[0] + 0.5])
    mid = (steps[1:] + steps[:-1]) / 2
    return np.concatenate([[steps[0] - (mid[0] - steps[0])], mid, [steps[-1] + (steps[-1] - mid[-1])]])


def integer_axes(ax: Axes, x: bool = False, y: bool = True) -> None:
    """Only whole-number ticks (layers, heads, steps)."""
    if x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if y:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def layer_range(layers: range) -> str:
    return f"{layers.start}" if len(layers) == 1 else f"{layers.start}-{layers.stop - 1}"


def gradnorm_heatmaps(hist: GradNormHistory) -> Figure:
    """Layer x step heatmaps of the per-layer gradient norm: raw (log colour), per-layer normalised
    (log10 of the norm over the layer's median, so each layer's own rise and fall shows), and each
    step's share per layer (where that step's gradient goes)."""
    fig = Figure(figsize=(15, 4.2))
    axes = fig.subplots(1, 3)
    data = hist.layer_norms.T  # (layers, steps)
    x = _step_edges(hist.steps.astype(np.float64))
    y = np.arange(hist.n_layers + 1) - 0.5
    positive = data[data > 0]
    norm = LogNorm(vmin=positive.min(), vmax=positive.max()) if positive.size else None
    m0 = axes[0].pcolormesh(x, y, np.where(data > 0, data, np.nan), norm=norm, cmap="viridis", shading="flat")
    fig.colorbar(m0, ax=axes[0], label="gradient norm")
    axes[0].set_title("Gradient norm per layer (raw)")
    with np.errstate(divide="ignore", invalid="ignore"):
        median = np.median(np.where(data > 0, data, np.nan), axis=1, keepdims=True)
        rel = np.log10(data / median)
    rel = np.where(np.isfinite(rel), rel, np.nan)
    lim = float(np.nanpercentile(np.abs(rel), 99)) if np.isfinite(rel).any() else 1.0
    m1 = axes[1].pcolormesh(x, y, rel, vmin=-lim, vmax=lim, cmap="RdBu_r", shading="flat")
    fig.colorbar(m1, ax=axes[1], label="log10(norm / layer median)")
    axes[1].set_title("Per-layer normalised")
    total = data.sum(axis=0, keepdims=True)
    share = data / np.where(total > 0, total, 1)
    m2 = axes[2].pcolormesh(x, y, share, vmin=0, cmap="magma", shading="flat")
    fig.colorbar(m2, ax=axes[2], label="share of the step's layer norms")
    axes[2].set_title("Where each step's gradient goes")
    for ax in axes:
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("layer")
        integer_axes(ax, x=True)
    fig.tight_layout()
    return fig


def gradnorm_groups(hist: GradNormHistory, window: int | None = None) -> Figure:
    """Smoothed gradient norm of early / middle / late layer groups, and per component, over steps."""
    fig = Figure(figsize=(11, 3.8))
    axes = fig.subplots(1, 2)
    w = window or max(1, len(hist.steps) // 25)
    sq = hist.norms.astype(np.float64) ** 2
    for name, layers in thirds(hist.n_layers).items():
        if len(layers):
            curve = np.sqrt(sq[:, list(layers)].sum(axis=(1, 2)))
            label = f"{name} ({layer_range(layers)})"
            axes[0].plot(hist.steps, smooth(curve, w), label=label, color=GROUP_COLOURS[name])
    axes[0].set_title("Layer groups")
    for j, comp in enumerate(hist.components):
        axes[1].plot(hist.steps, smooth(np.sqrt(sq[:, :, j].sum(axis=1)), w), label=comp)
    axes[1].set_title("Components")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(f"gradient norm (smoothed over {w})")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def delta_heatmap(deltas: DeltaHistory) -> Figure:
    """||scale * B @ A||_F (LoRA) or ||W - W0||_F (full weights) per layer x component at the last
    checkpoint, and its growth per layer group."""
    fig = Figure(figsize=(11, 4.2))
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    last = np.where(deltas.trained, deltas.norms[-1], np.nan)
    im = axes[0].imshow(last, aspect="auto", cmap="viridis", origin="lower", interpolation="nearest")
    axes[0].set_xticks(range(len(deltas.components)), deltas.components, rotation=35, ha="right", fontsize=8)
    axes[0].set_ylabel("layer")
    integer_axes(axes[0])
    axes[0].set_title(f"Update norm at {deltas.labels[-1]}")
    fig.colorbar(im, ax=axes[0], label="||W − W₀||_F" if deltas.kind == "full" else "||scale·BA||_F")
    sq = deltas.norms.astype(np.float64) ** 2
    for name, layers in thirds(deltas.norms.shape[1]).items():
        if len(layers):
            axes[1].plot(
                deltas.steps,
                np.sqrt(sq[:, list(layers)].sum(axis=(1, 2))),
                marker="o",
                ms=3,
                label=f"{name} ({layer_range(layers)})",
                color=GROUP_COLOURS[name],
            )
    axes[1].set_xlabel("checkpoint step")
    integer_axes(axes[1], x=True, y=False)
    axes[1].set_ylabel("update norm")
    axes[1].set_title("Growth over checkpoints")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def trajectory_figure(traj: Trajectory) -> Figure:
    """Loss (raw and smoothed) and checkpoint metrics over steps, the phase transition marked."""
    has_metric = traj.metric is not None and len(traj.series(traj.metric)[0]) > 0
    panels = 1 + int(has_metric) + int(traj.has_pairwise_accuracy)
    fig = Figure(figsize=(11, 3.4 * panels))
    axes = np.atleast_1d(fig.subplots(panels, 1, sharex=True))
    ax = axes[0]
    if len(traj.steps):
        ax.plot(traj.steps, traj.loss, color="#bbbbbb", lw=0.8, label="loss")
        ax.plot(traj.steps, traj.smoothed, color="#d95f02", lw=2, label=f"smoothed ({traj.window} steps)")
    ax.set_ylabel("training loss")
    ax.set_title("Training trajectory")
    i = 1
    if has_metric:
        cs, cv = traj.series(traj.metric)  # type: ignore[arg-type]
        axes[i].plot(cs, cv, marker="o", color="#1b9e77", label=f"dev {traj.metric}")
        if traj.threshold is not None:
            axes[i].axhline(
                traj.threshold, color="#888888", ls=":", lw=1, label=f"threshold {traj.threshold:.3f}"
            )
        if traj.first_over is not None:
            axes[i].axvline(
                traj.first_over,
                color="#1b9e77",
                ls="--",
                lw=1,
                label=f"first over threshold: step {traj.first_over}",
            )
        axes[i].set_ylabel(traj.metric)
        i += 1
    if traj.has_pairwise_accuracy:
        ps, pv = traj.series("pairwise_accuracy")
        axes[i].plot(ps, pv, marker="o", color="#7570b3", label="pairwise accuracy")
        axes[i].set_ylabel("pairwise accuracy")
    for ax in axes:
        if traj.transition_step is not None:
            ax.axvline(
                traj.transition_step,
                color="#d62728",
                ls="--",
                lw=1.2,
                label=f"steepest loss drop: step {traj.transition_step}",
            )
        ax.legend(fontsize=8)
    axes[-1].set_xlabel("step")
    integer_axes(axes[-1], x=True, y=False)
    fig.tight_layout()
    return fig
