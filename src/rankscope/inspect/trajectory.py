"""The training trajectory from loss.jsonl and metrics.jsonl: smoothed loss, the phase transition (the step
of the steepest smoothed loss drop, where it stands out from the loss's noise), the first checkpoint over a
quality threshold, pairwise accuracy."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rankscope.io import read_jsonl

LOSS_FILE = "loss.jsonl"
METRICS_FILE = "metrics.jsonl"
_NOT_METRICS = {"step", "dev_loss", "seconds", "pairwise_accuracy", "epoch"}


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """JSON lines by step (a step written twice, e.g. by a resumed run, keeps its last row; a last line cut
    off by a kill is dropped)."""
    rows: dict[int, dict[str, Any]] = {}
    for row in read_jsonl(path):  # a last line cut off by a kill is dropped, as training reads it
        if "step" in row:
            rows[int(row["step"])] = row
    return [rows[s] for s in sorted(rows)]


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred rolling mean; the window shrinks at the ends so every point is an average of real values."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 0 or window <= 1:
        return values.copy()
    half = window // 2
    csum = np.concatenate([[0.0], np.cumsum(values)])
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) + (window - half), 0, n)
    return (csum[hi] - csum[lo]) / (hi - lo)


def default_window(n: int) -> int:
    """About 5% of the steps, at least 5 (or n)."""
    return max(1, min(n, max(5, n // 20)))


def _slopes(steps: np.ndarray, smoothed: np.ndarray, window: int) -> tuple[int, np.ndarray] | None:
    """(offset, slope per step) where `smooth`'s window is whole (at the ends it shrinks, which bends the
    curve and made a kink there look like a transition); None with fewer than 3 such points."""
    half = window // 2 if window > 1 else 0
    lo, hi = half, len(steps) - (window - half) + 1 if window > 1 else len(steps)
    if hi - lo < 3:
        return None
    return lo, np.gradient(smoothed[lo:hi], steps[lo:hi].astype(np.float64))


def steepest_drop(steps: np.ndarray, smoothed: np.ndarray, window: int = 1) -> int | None:
    """The step where the smoothed loss falls fastest per step, searched only where `smooth`'s window is
    whole. None with fewer than 3 such points, when the loss never falls, or when it falls fastest at the
    first of them: a loss that decays from the start has no transition to name."""
    found = _slopes(steps, smoothed, window)
    if found is None:
        return None
    lo, slope = found
    i = int(np.nanargmin(slope))
    return int(steps[lo + i]) if slope[i] < 0 and i > 0 else None


ALPHA = 0.05


def drop_p_value(steps: np.ndarray, loss: np.ndarray, window: int, at: int) -> float:
    """Whether the loss drop at step `at` stands out from the loss's step-to-step noise: the mean loss of
    the `window` steps before it minus that of the `window` steps from it, in standard errors of such a
    difference (noise sd from the median absolute step-to-step change, which a trend barely moves), as a
    one-sided p-value Bonferroni-corrected for the len(loss) / window places a drop could have been found.
    Per-step losses are one batch each; without this the steepest smoothed drop of pure noise was named a
    phase transition in 195 of 200 simulated runs."""
    i = int(np.searchsorted(steps, at))
    before, after = loss[max(0, i - window) : i], loss[i : i + window]
    if len(before) < 2 or len(after) < 2:
        return 1.0
    diffs = np.diff(loss)
    sd = float(np.median(np.abs(diffs - np.median(diffs)))) / (0.6745 * math.sqrt(2))
    drop = float(before.mean() - after.mean())
    if sd == 0:
        return 0.0 if drop > 0 else 1.0
    z = drop / (sd * math.sqrt(1 / len(before) + 1 / len(after)))
    places = max(1.0, len(loss) / window)
    return min(1.0, places * 0.5 * math.erfc(z / math.sqrt(2)))


def pick_metric(rows: list[dict[str, Any]], metric: str | None = None) -> str | None:
    """`metric`, else nDCG@10, else the first numeric quality column of metrics.jsonl."""
    keys = [k for r in rows for k, v in r.items() if k not in _NOT_METRICS and isinstance(v, int | float)]
    if metric is not None:
        return metric if metric in keys else None
    if "nDCG@10" in keys:
        return "nDCG@10"
    return keys[0] if keys else None


@dataclass
class Trajectory:
    steps: np.ndarray
    loss: np.ndarray
    smoothed: np.ndarray
    window: int
    transition_step: int | None
    """Step of the steepest smoothed loss drop, where it stands out from the loss's noise (None if not)."""
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    metric: str | None = None
    steepest_step: int | None = None
    """Step of the steepest smoothed loss drop, whether or not it stands out from the noise."""
    transition_p: float | None = None
    """p-value of that drop against the loss's step-to-step noise (`drop_p_value`)."""
    threshold: float | None = None
    threshold_rule: str = ""
    first_over: int | None = None
    """Step of the first checkpoint whose metric reaches the threshold."""

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of one metrics.jsonl column, where present and finite."""
        pts = [(r["step"], r[key]) for r in self.checkpoints if _finite(r.get(key))]
        return np.array([p[0] for p in pts], dtype=np.int64), np.array([p[1] for p in pts], dtype=np.float64)

    @property
    def has_pairwise_accuracy(self) -> bool:
        return len(self.series("pairwise_accuracy")[0]) > 0


def _finite(v: object) -> bool:
    return isinstance(v, int | float) and math.isfinite(float(v))


def trajectory(
    run_dir: str | Path,
    metric: str | None = None,
    threshold: float | None = None,
    window: int | None = None,
) -> Trajectory:
    """The trajectory of a run folder; `threshold` defaults to 90% of the way from the first checkpoint's
    metric to the best one."""
    run_dir = Path(run_dir)
    loss_rows = [r for r in read_rows(run_dir / LOSS_FILE) if _finite(r.get("loss"))]
    steps = np.array([r["step"] for r in loss_rows], dtype=np.int64)
    loss = np.array([r["loss"] for r in loss_rows], dtype=np.float64)
    w = window or default_window(len(loss))
    smoothed = smooth(loss, w)
    checkpoints = read_rows(run_dir / METRICS_FILE)
    steepest = steepest_drop(steps, smoothed, w)
    p = drop_p_value(steps, loss, w, steepest) if steepest is not None else None
    transition = steepest if p is not None and p < ALPHA else None
    traj = Trajectory(
        steps, loss, smoothed, w, transition, checkpoints, steepest_step=steepest, transition_p=p
    )
    traj.metric = pick_metric(checkpoints, metric)
    if traj.metric is None:
        return traj
    cs, cv = traj.series(traj.metric)
    if len(cv) == 0:
        return traj
    if threshold is None:
        threshold = float(cv[0] + 0.9 * (cv.max() - cv[0]))
        traj.threshold_rule = f"90% of the way from the first {traj.metric} to the best"
    else:
        traj.threshold_rule = f"{traj.metric} >= {threshold:g}"
    traj.threshold = threshold
    over = np.nonzero(cv >= threshold - 1e-12)[0]
    traj.first_over = int(cs[over[0]]) if len(over) else None
    return traj
