"""Why a fine-tune got worse: score distributions on dev at each evaluation, and one-line verdicts.

At every dev evaluation training records (metrics.jsonl, key "health") the scores of judged positives
and of the other candidates, their separation (mean per-query AUC and margin), and the mean within-query
spread of scores. `verdicts` reads those rows with the training loss and says, one line each, whether
the scores collapse, the run overfits, or the fine-tune gains nothing over zero-shot, else "healthy".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

HEALTH_KEY = "health"
VerdictKind = Literal["healthy", "collapse", "overfitting", "no-gain"]


@dataclass
class ScoreHealth:
    """Score distributions of one dev evaluation (pooled over queries; separation per query)."""

    pos_mean: float | None
    pos_std: float | None
    neg_mean: float | None
    neg_std: float | None
    auc: float | None
    """mean over queries of P(positive scored above negative), ties counted half."""
    margin: float | None
    """mean over queries of (mean positive score - mean negative score)."""
    spread: float | None
    """mean over queries of the standard deviation of their scores: near 0 means collapsed scores."""
    queries: int

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _std(xs: Sequence[float]) -> float | None:
    if not xs:
        return None
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))


def _auc(pos: Sequence[float], neg: Sequence[float]) -> float:
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def score_health(
    run: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]], min_relevance: int = 1
) -> ScoreHealth:
    """Distributions of a dev run's scores: documents judged >= `min_relevance` are positives, every
    other reranked candidate a negative; only judged queries count."""
    pos_all: list[float] = []
    neg_all: list[float] = []
    aucs, margins, spreads = [], [], []
    n = 0
    for qid, docs in run.items():
        if qid not in qrels or not docs:
            continue
        n += 1
        judged = qrels[qid]
        pos = [s for d, s in docs.items() if judged.get(d, 0) >= min_relevance]
        neg = [s for d, s in docs.items() if judged.get(d, 0) < min_relevance]
        pos_all += pos
        neg_all += neg
        spreads.append(_std(list(docs.values())) or 0.0)
        if pos and neg:
            aucs.append(_auc(pos, neg))
            margins.append(sum(pos) / len(pos) - sum(neg) / len(neg))
    return ScoreHealth(
        _mean(pos_all),
        _std(pos_all),
        _mean(neg_all),
        _std(neg_all),
        _mean(aucs),
        _mean(margins),
        _mean(spreads),
        n,
    )


@dataclass
class Verdict:
    kind: VerdictKind
    step: int | None
    line: str


_NOT_MEASURES = {"step", "dev_loss", "seconds", "pairwise_accuracy", "epoch", HEALTH_KEY}


def pick_measure(rows: Sequence[Mapping[str, Any]], measure: str | None = None) -> str | None:
    """`measure`, else nDCG@10, else the first numeric quality column of the metrics rows."""
    keys = [k for r in rows for k, v in r.items() if k not in _NOT_MEASURES and isinstance(v, int | float)]
    if measure is not None:
        return measure if measure in keys else None
    return "nDCG@10" if "nDCG@10" in keys else (keys[0] if keys else None)


def _window_loss(loss_rows: Sequence[Mapping[str, Any]], lo: int, hi: int) -> float | None:
    vals = [float(r["loss"]) for r in loss_rows if lo < int(r["step"]) <= hi and _finite(r.get("loss"))]
    return sum(vals) / len(vals) if vals else None


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)


def collapse_step(rows: Sequence[Mapping[str, Any]], fraction: float = 0.5) -> int | None:
    """First step whose within-query score spread is below `fraction` of the first evaluation's."""
    spreads = [
        (int(r["step"]), r[HEALTH_KEY].get("spread")) for r in rows if isinstance(r.get(HEALTH_KEY), dict)
    ]
    spreads = [(s, v) for s, v in spreads if _finite(v)]
    if len(spreads) < 2 or spreads[0][1] <= 0:
        return None
    start = spreads[0][1]
    return next((s for s, v in spreads[1:] if v < fraction * start), None)


def overfit_step(
    rows: Sequence[Mapping[str, Any]], loss_rows: Sequence[Mapping[str, Any]], measure: str, patience: int = 2
) -> int | None:
    """The evaluation step after which, for `patience` consecutive evaluations, the mean training loss
    fell while the dev measure fell too, and no later evaluation rose above its value there (None if that
    never happens: a dip the run recovers from is not overfitting)."""
    evals = [(int(r["step"]), float(r[measure])) for r in rows if _finite(r.get(measure))]
    streak = 0
    for i in range(1, len(evals)):
        (s0, m0), (s1, m1) = evals[i - 1], evals[i]
        prev_lo = evals[i - 2][0] if i >= 2 else -1
        before, now = _window_loss(loss_rows, prev_lo, s0), _window_loss(loss_rows, s0, s1)
        falling = before is not None and now is not None and now < before and m1 < m0
        streak = streak + 1 if falling else 0
        if streak >= patience:
            step, value = evals[i - patience]
            if all(m <= value for _, m in evals[i + 1 :]):
                return step
            streak = 0  # recovered later: look for a fall after this one
    return None


def verdicts(
    metrics_rows: Sequence[Mapping[str, Any]],
    loss_rows: Sequence[Mapping[str, Any]],
    measure: str | None = None,
    collapse_fraction: float = 0.5,
    patience: int = 2,
) -> list[Verdict]:
    """One line per finding: "scores collapsing at step N" (spread below `collapse_fraction` of its
    start), "overfitting from step N" (loss and dev measure falling for `patience` evaluations, and the
    measure never back above its step-N value), "no gain over zero-shot" (final dev measure not above
    step 0's); "healthy" when none applies."""
    rows = sorted(metrics_rows, key=lambda r: int(r["step"]))
    name = pick_measure(rows, measure)
    out: list[Verdict] = []
    step = collapse_step(rows, collapse_fraction)
    if step is not None:
        first = next(r[HEALTH_KEY]["spread"] for r in rows if isinstance(r.get(HEALTH_KEY), dict))
        now = next(r[HEALTH_KEY]["spread"] for r in rows if int(r["step"]) == step)
        out.append(
            Verdict(
                "collapse",
                step,
                f"scores collapsing at step {step} (within-query spread {first:.3g} -> {now:.3g})",
            )
        )
    if name is not None:
        step = overfit_step(rows, loss_rows, name, patience)
        if step is not None:
            out.append(
                Verdict(
                    "overfitting",
                    step,
                    f"overfitting from step {step} (training loss falls while dev {name} falls)",
                )
            )
        scored = [r for r in rows if _finite(r.get(name))]
        zero = next((r for r in scored if int(r["step"]) == 0), None)
        if zero is not None and len(scored) > 1 and scored[-1][name] <= zero[name]:
            last = scored[-1]
            out.append(
                Verdict(
                    "no-gain",
                    int(last["step"]),
                    f"no gain over zero-shot (dev {name} {zero[name]:.4f} at step 0, "
                    f"{last[name]:.4f} at step {last['step']})",
                )
            )
    if not out:
        scored = [r for r in rows if name is not None and _finite(r.get(name))]
        what = ""
        if len(scored) > 1:
            what = f"dev {name} {scored[0][name]:.4f} -> {scored[-1][name]:.4f}"
            what += "; " if int(scored[0]["step"]) == 0 else " (no zero-shot row to compare); "
        out.append(Verdict("healthy", None, f"healthy ({what}no collapse, no overfitting)"))
    return out
