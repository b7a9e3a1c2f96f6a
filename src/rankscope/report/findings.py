"""Plain-word findings computed from the numbers of each analysis, with the numbers behind them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rankscope.evaluate.compare import ALPHA
from rankscope.inspect.ablation import AblationResult, AblationRow
from rankscope.inspect.attention import AttentionResult
from rankscope.inspect.deltas import DeltaHistory
from rankscope.inspect.gradnorms import GradNormHistory
from rankscope.inspect.probes import ProbeCurve, ProbeResult
from rankscope.inspect.trajectory import Trajectory
from rankscope.models.components import COMPONENTS
from rankscope.report.figures import thirds
from rankscope.report.figures_inspect import MEASURE_TITLES, active_measures

READABLE_AUC = 0.75


@dataclass
class Findings:
    sentences: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)


def _span(a: int, b: int) -> str:
    return f"layer {a}" if a == b else f"layers {a}-{b}"


def finite_argmax(values: np.ndarray) -> int | None:
    """The (flat) index of the largest finite value, None when none is finite: nan won np.argmax, so a
    diverged layer was named the best one."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    return int(np.argmax(np.where(finite, values, -np.inf))) if finite.any() else None


def peak_window(mass: np.ndarray, width: int) -> tuple[int, int, float]:
    """(first, last, share) of the contiguous `width` layers holding the largest share of `mass`."""
    total = float(mass.sum()) or 1.0
    width = max(1, min(width, len(mass)))
    sums = np.convolve(mass, np.ones(width), mode="valid")
    start = int(np.argmax(sums))
    return start, start + width - 1, float(sums[start]) / total


EVEN_MARGIN = 1.2
"""a window "peaks" only when it holds at least this many times what an even spread over the layers gives"""


def peak_words(what: str, mass: np.ndarray, trained: np.ndarray | None = None) -> tuple[str, int, int, float]:
    """Where `mass` (per layer) peaks: the adjacent third of the trained layers holding most of it, said
    against what an even spread over the trained layers gives ("peaks in layers 2-3 (34%)" was a flat
    profile; a run training 15 of 30 layers read 67% against 33%). Returns (sentence, first, last, share)."""
    layers = np.flatnonzero(trained) if trained is not None and trained.any() else np.arange(len(mass))
    n = len(layers)
    width = max(1, round(n / 3))
    if n <= 1:
        k = int(layers[0]) if n else 0
        return f"{what} is all in {_span(k, k)}, the only trained layer.", k, k, 1.0
    i, j, share = peak_window(np.asarray(mass)[layers], width)  # over the trained layers, interleaved or not
    a, b = int(layers[i]), int(layers[j])
    even = width / n
    if share < EVEN_MARGIN * even:
        some = "one layer holds" if width == 1 else f"{width} adjacent trained layers hold"
        text = (
            f"{what} is spread about evenly over the {n} trained layers: the most any {some} is {share:.0%} "
            f"({_span(a, b)}), against {even:.0%} for an even spread."
        )
    else:
        text = (
            f"{what} peaks in {_span(a, b)} ({share:.0%} of the total; an even spread over the {n} trained "
            f"layers gives {even:.0%})."
        )
    return text, a, b, share


def gradnorm_findings(hist: GradNormHistory) -> Findings:
    f = Findings()
    if len(hist.steps) == 0:
        return f
    hist, bad = hist.finite()
    if len(bad):  # a diverged step: its nan or inf would make every share below nan or arbitrary
        f.sentences.append(
            f"Gradient norms are not finite at {len(bad)} of {len(hist.steps) + len(bad)} logged steps "
            f"(first at step {int(bad[0])}): the shares below count the finite steps only."
        )
        f.numbers["non_finite_steps"] = [int(x) for x in bad]
        if len(hist.steps) == 0:
            return f
    if hist.extra_names:
        # squared norms add up (the global norm's square), whatever the grouping; summed norms do not
        outside = float((hist.extra.astype(np.float64) ** 2).sum())
        inside = float((hist.layer_norms.astype(np.float64) ** 2).sum())
        names = ", ".join(hist.extra_names)
        share = outside / max(outside + inside, 1e-30)
        f.sentences.append(
            f"{share:.0%} of the squared gradient norm, summed over steps, is outside the transformer blocks "
            f"({names})."
        )
    if hist.n_layers == 0 or not hist.trained.any():
        return f
    mass = hist.layer_norms.sum(axis=0)  # summed over steps
    text, a, b, share = peak_words("Gradient mass", mass, hist.trained.any(axis=1))
    f.sentences.append(text)
    comp_mass = np.sqrt((hist.norms.astype(np.float64) ** 2).sum(axis=1)).sum(axis=0)
    if comp_mass.sum() > 0 and len(hist.components) > 1:
        j = int(np.argmax(comp_mass))
        f.sentences.append(
            f"{hist.components[j]} receives the largest share of the gradient "
            f"({comp_mass[j] / comp_mass.sum():.0%})."
        )
    groups = {k: list(v) for k, v in thirds(hist.n_layers).items() if len(v)}
    n = len(hist.steps)
    tenth = max(1, n // 10)
    early_steps, late_steps = hist.layer_norms[:tenth], hist.layer_norms[-tenth:]
    shift = {}
    for name, layers in groups.items():
        s0 = early_steps[:, layers].sum() / max(early_steps.sum(), 1e-30)
        s1 = late_steps[:, layers].sum() / max(late_steps.sum(), 1e-30)
        shift[name] = (float(s0), float(s1))
    name = max(shift, key=lambda k: abs(shift[k][1] - shift[k][0]))
    s0, s1 = shift[name]
    if n >= 20 and abs(s1 - s0) >= 0.05:
        f.sentences.append(
            f"The {name} layers' share of the gradient goes from {s0:.0%} in the first tenth of training "
            f"to {s1:.0%} in the last."
        )
    f.numbers = {
        "peak_layers": [a, b],
        "peak_share": share,
        "layer_share": (mass / (mass.sum() or 1)).tolist(),
        "component_share": dict(
            zip(hist.components, (comp_mass / (comp_mass.sum() or 1)).tolist(), strict=True)
        ),
        "group_share_first_last_tenth": shift,
        "steps": int(n),
    }
    return f


def delta_findings(deltas: DeltaHistory) -> Findings:
    f = Findings()
    last = deltas.norms[-1].astype(np.float64)
    by_comp = np.sqrt((last**2).sum(axis=0))
    by_layer = np.sqrt((last**2).sum(axis=1))
    if by_comp.sum() == 0:
        return f
    j = int(np.argmax(by_comp))
    f.sentences.append(
        f"At {deltas.labels[-1]}, the largest weight change is in {deltas.components[j]} "
        f"({by_comp[j] / by_comp.sum():.0%} of the summed per-component update norm)."
    )
    f.sentences.append(peak_words("The squared update norm", by_layer**2, deltas.trained.any(axis=1))[0])
    if deltas.kind == "full":
        f.sentences.append(
            "These are full-weight changes ||W - W0||: Adam moves every element by about the same step, "
            "so a component's norm follows its matrix size; compare layers, not components."
        )
    f.numbers = {
        "checkpoint": deltas.labels[-1],
        "component_norm": dict(zip(deltas.components, by_comp.tolist(), strict=True)),
        "layer_norm": by_layer.tolist(),
        "total_norm_per_checkpoint": np.sqrt(
            (deltas.norms.astype(np.float64) ** 2).sum(axis=(1, 2))
        ).tolist(),
    }
    return f


def _first_readable(curve: ProbeCurve) -> int | None:
    """The first layer from which the AUC stays >= READABLE_AUC up to the last layer (None if none)."""
    first = None
    for i, v in enumerate(curve.auc):
        if not v >= READABLE_AUC:  # nan (undefined) is not readable
            first = None
        elif first is None:
            first = i
    return first


def probe_findings(probes: ProbeResult) -> Findings:
    f = Findings()
    what = "which document is better" if probes.task == "pairwise" else "relevance"
    for name, curve in (("base model", probes.base), ("fine-tuned model", probes.tuned)):
        if curve is None:
            continue
        auc = np.asarray(curve.auc, dtype=float)
        best = finite_argmax(auc)
        if best is None:  # e.g. a diverged model's non-finite hidden states
            f.sentences.append(f"In the {name}, the probe AUC is undefined at every layer (non-finite).")
            f.numbers[name.split()[0]] = {"best_layer": None, "best_auc": None, "first_readable": None}
            continue
        undefined = [i for i, v in enumerate(auc) if not np.isfinite(v)]
        first = _first_readable(curve)
        above = [i for i, v in enumerate(curve.auc) if v >= READABLE_AUC]
        if first is not None:
            where = f"from probe layer {first} on (AUC >= {READABLE_AUC} at every layer after it)"
        elif above:
            where = f"at probe layers {_layers(above)} only (AUC >= {READABLE_AUC}; not after)"
        else:
            where = f"at no layer (AUC stays below {READABLE_AUC})"
        nan_note = ""
        if undefined:
            nan_note = f"; the AUC is undefined (non-finite) at probe layers {_layers(undefined)}"
        f.sentences.append(
            f"In the {name}, {what} is linearly readable {where}; "
            f"best AUC {curve.auc[best]:.2f} at probe layer {best} (probe layer k is block k-1's output, "
            f"the last one after the final norm, 0 the embeddings){nan_note}."
        )
        f.numbers[name.split()[0]] = {
            "best_layer": best,
            "best_auc": curve.auc[best],
            "first_readable": first,
        }
    if probes.base and probes.tuned:
        gain = np.array(probes.tuned.auc, dtype=float) - np.array(probes.base.auc, dtype=float)
        k = finite_argmax(gain)
        if k is None:
            return _ungrouped_note(f, probes)
        spread = max(probes.base.auc_std[k], probes.tuned.auc_std[k])
        within = f", within the folds' spread (+-{spread:.2f})" if abs(gain[k]) <= spread else ""
        verb = "raises probe AUC most" if gain[k] > 0 else "raises probe AUC at no layer; it lowers it least"
        f.sentences.append(f"Fine-tuning {verb} at probe layer {k} ({gain[k]:+.2f}{within}).")
        f.numbers["largest_gain"] = {"layer": k, "auc_gain": float(gain[k]), "fold_std": float(spread)}
    return _ungrouped_note(f, probes)


def _layers(idx: list[int]) -> str:
    return ", ".join(map(str, idx))


def _ungrouped_note(f: Findings, probes: ProbeResult) -> Findings:
    if not probes.grouped:
        f.sentences.append(
            "The folds were not grouped by query, so a query's pairs can sit on both sides of a split "
            "(AUC below 0.5 is then that leak, not signal)."
        )
    return f


def _finite_mean(a: np.ndarray) -> float:
    finite = np.asarray(a, dtype=float)[np.isfinite(a)]
    return float(finite.mean()) if finite.size else float("nan")


def attention_findings(att: AttentionResult) -> Findings:
    f = Findings()
    change = att.change
    for m in active_measures(att):
        views = [att.before[m]] + ([att.after[m]] if att.after is not None else [])
        bad = sum(int((~np.isfinite(v)).sum()) for v in views)
        note = (
            f" ({bad} non-finite layer-head values, e.g. from a diverged model, are left out of the means)"
            if bad
            else ""
        )
        before = _finite_mean(att.before[m])
        after = _finite_mean(att.after[m]) if change is not None and att.after is not None else None
        title = MEASURE_TITLES[m]
        sides = {"before": before, "after": after}
        undefined = [k for k, v in sides.items() if v is not None and not np.isfinite(v)]
        if undefined:  # no finite value at all on a side: said so, never "nan"
            known = [f"{k}: {v:.3f}" for k, v in sides.items() if v is not None and np.isfinite(v)]
            which = f" {' and '.join(undefined)} fine-tuning" if after is not None else ""
            f.sentences.append(
                f"Mean {title} attention mass is undefined{which}"
                + (f" ({known[0]})" if known else "")
                + ": non-finite at every layer and head (e.g. a diverged model)."
            )
            f.numbers[m] = {k: v if v is not None and np.isfinite(v) else None for k, v in sides.items()}
            continue
        if after is None:
            f.sentences.append(f"Mean {title} attention mass: {before:.3f}{note}.")
            f.numbers[m] = {"before": before}
            continue
        assert change is not None
        sentence = f"Fine-tuning moves mean {title} attention from {before:.3f} to {after:.3f}"
        largest_at = finite_argmax(np.abs(change[m]))
        if largest_at is None:
            f.sentences.append(f"{sentence}{note}; no layer-head change is finite.")
            f.numbers[m] = {"before": before, "after": after, "largest_change": None}
            continue
        layer, head = np.unravel_index(largest_at, change[m].shape)
        delta = float(change[m][layer, head])
        largest = f"the largest change is layer {layer} head {head} ({delta:+.3f})"
        f.sentences.append(f"{sentence}{note}; {largest}.")
        f.numbers[m] = {"before": before, "after": after, "largest_change": [int(layer), int(head), delta]}
    return f


def _dev_measure(measure: str) -> str:
    return "dev loss" if measure == "dev_loss" else f"dev {measure}"


def has_gain(abl: AblationResult) -> bool:
    """Whether fine-tuning raised the primary measure over zero-shot: shares of a gain <= 0 mean nothing
    (a share of a loss reads backwards, and near 0 it explodes)."""
    return abl.finetuned[abl.primary] - abl.zero_shot[abl.primary] > 1e-9


def ablation_findings(abl: AblationResult) -> Findings:
    f = Findings()
    p = abl.primary
    gain = abl.finetuned[p] - abl.zero_shot[p]
    f.sentences.append(
        f"{p}: zero-shot {abl.zero_shot[p]:.3f}, fine-tuned {abl.finetuned[p]:.3f} (gain {gain:+.3f})."
    )
    f.numbers["gain"] = gain
    if not has_gain(abl):
        f.sentences.append(
            f"Fine-tuning did not improve {p} over zero-shot, so there is no gain for the {abl.updates} "
            "to keep: the ablations cannot say where relevance was learned."
        )
        f.numbers["preset_share"] = {}
        return f
    if abl.gain_p is not None:
        f.numbers["gain_p"] = abl.gain_p
        if abl.gain_p >= ALPHA:
            f.sentences.append(
                f"The gain is noise (paired t-test over {abl.gain_queries} dev queries, "
                f"p = {abl.gain_p:.2g}): the shares below split a difference that may not be real, "
                "and are not findings."
            )
    if abl.selection_queries:
        f.numbers["selection_queries"] = abl.selection_queries
        by = _dev_measure(abl.selection_measure or p)
        f.sentences.append(
            f"The inspected checkpoint (the best) was chosen by its {by} on "
            f"{abl.selection_queries} of these {abl.gain_queries or abl.selection_queries} queries, so the "
            "gain reads high on them (a choice among checkpoints favours the queries it was made on) and so "
            "does each share's denominator; `--checkpoint final`, or more dev queries (`--max-queries`), "
            "give a fairer reading."
        )
    presets = [r for r in abl.rows if r.kind != "window" and r.share.get(p) is not None]
    for r in presets:
        words = _custom_words(r, abl.updates) if r.kind == "custom" else _preset_words(r.name, abl.updates)
        f.sentences.append(f"{words} keep {r.share[p]:.0%} of the gain.")
    f.numbers["preset_share"] = {r.name: r.share[p] for r in presets}
    if abl.windows is not None:
        grid = abl.windows.share
        keep = abl.windows.mode == "keep"  # keep: the window alone; drop: every layer but the window
        best: tuple[float, int, int] | None = None
        for i, size in enumerate(abl.windows.sizes):
            for j, start in enumerate(abl.windows.starts):
                v = grid[i][j]
                # the window that matters most: kept alone, it keeps the most; dropped, it leaves the least
                if v is not None and (best is None or (v > best[0] if keep else v < best[0])):
                    best = (v, size, start)
        if best is not None:
            v, size, start = best
            span = _span(start, start + size - 1)
            f.sentences.append(
                f"The best {size}-layer window ({span}) alone keeps {v:.0%} of the gain."
                if keep
                else f"Dropping the {size}-layer window that matters most ({span}) leaves {v:.0%} of it."
            )
            f.numbers["best_window"] = {"size": size, "start": start, "share": v}
    return f


def _custom_words(row: AblationRow, updates: str = "adapters") -> str:
    """'With 'NAME' (q, v adapters of layers 0-3 switched off), the adapters left on': what a custom
    ablation switched off, so that its share reads as the part kept."""
    ls = row.off_layers
    if ls is None:
        where = "every layer"
    elif not ls:
        where = "no layer"
    elif sorted(ls) == list(range(min(ls), max(ls) + 1)):
        where = _span(min(ls), max(ls))
    else:
        where = "layers " + ", ".join(map(str, sorted(ls)))
    what = "all" if row.off_components is None else ", ".join(row.off_components)
    return f"With '{row.name}' ({what} {updates} of {where} switched off), the {updates} left on"


def _preset_words(name: str, updates: str = "adapters") -> str:
    """'mlp-only' -> 'MLP-only adapters', 'down-only' -> 'mlp.down-only adapters', other names as given;
    `updates` names what was kept ("adapters", or "weight updates" for a full fine-tune)."""
    words = {"attention-only": "Attention-only", "mlp-only": "MLP-only"}
    if name in words:
        return f"{words[name]} {updates}"
    short = {c.split(".")[1]: c for c in COMPONENTS}
    stem = name.removesuffix("-only")
    if name.endswith("-only") and stem in short:
        return f"{short[stem]}-only {updates}"
    return f"The '{name}' ablation's {updates}"


def trajectory_findings(traj: Trajectory) -> Findings:
    f = Findings()
    if traj.transition_step is not None:
        f.sentences.append(
            f"The steepest drop of the smoothed loss (window {traj.window}) is at step "
            f"{traj.transition_step}, beyond the loss's step-to-step noise (p = {traj.transition_p:.2g})."
        )
    elif traj.steepest_step is not None:
        f.sentences.append(
            f"No phase transition stands out: the steepest drop of the smoothed loss (window {traj.window}, "
            f"step {traj.steepest_step}) is within the loss's step-to-step noise "
            f"(p = {traj.transition_p:.2f})."
        )
    if len(traj.loss):
        f.sentences.append(
            f"Smoothed loss goes from {traj.smoothed[0]:.3f} to {traj.smoothed[-1]:.3f} "
            f"over {int(traj.steps[-1])} steps."
        )
    if traj.metric:
        cs, cv = traj.series(traj.metric)
        if len(cv):
            best = int(np.argmax(cv))
            f.sentences.append(
                f"Dev {traj.metric} goes from {cv[0]:.3f} (step {cs[0]}) to {cv[-1]:.3f} (step {cs[-1]}); "
                f"best {cv[best]:.3f} at step {cs[best]}."
            )
            if best == 0:
                f.sentences.append(f"Dev {traj.metric} never improves on the first checkpoint.")
            elif traj.first_over is not None:
                f.sentences.append(
                    f"The first checkpoint at or over {traj.threshold:.3f} ({traj.threshold_rule}) "
                    f"is step {traj.first_over}."
                )
            f.numbers["metric"] = {"name": traj.metric, "first": cv[0], "last": cv[-1], "best": cv[best]}
    if traj.has_pairwise_accuracy:
        _, pv = traj.series("pairwise_accuracy")
        f.sentences.append(f"Pairwise accuracy goes from {pv[0]:.1%} to {pv[-1]:.1%}.")
    f.numbers.update(
        transition_step=traj.transition_step,
        steepest_step=traj.steepest_step,
        transition_p=traj.transition_p,
        first_over=traj.first_over,
        threshold=traj.threshold,
        window=traj.window,
    )
    return f
