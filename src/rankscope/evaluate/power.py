"""How large a difference a comparison could have shown: the power of the paired t-test over its queries.

For one comparison (per-query deltas d over n queries, standard deviation s):
- the smallest mean delta that would read as a finding with these n queries: t(1 - alpha/2, n - 1) s / sqrt(n)
  (a delta of that size gives exactly p = alpha in `compare`'s two-sided paired t-test);
- the queries needed for the test to find the observed mean delta with probability `power`, were it the true
  one and the per-query spread the same (the noncentral t distribution, as G*Power and statsmodels compute
  it). A "noise" reading with a small delta then says whether more queries could ever settle it.

Holm's correction is not applied: these are for one planned comparison at `alpha`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from rankscope.errors import InputError
from rankscope.evaluate.compare import ALPHA, TIE_TOL, CompareResult, several_baselines

POWER = 0.8
MAX_QUERIES = 10_000_000
"""beyond this the answer is reported as None (a delta too small to matter for any test collection)."""


@dataclass(frozen=True)
class Power:
    """The sensitivity of one comparison (`compare`'s measure, baseline and run)."""

    measure: str
    baseline: str
    run: str
    queries: int
    delta: float
    sd_delta: float
    """standard deviation of the per-query deltas."""
    min_detectable: float
    """smallest |mean delta| that reads as a finding (p < alpha) with these queries and this spread."""
    queries_needed: int | None
    """queries for the test to find the observed delta with probability `power` (None: none needed is
    finite, the delta is 0, or more than MAX_QUERIES)."""

    def to_json(self) -> dict[str, Any]:
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in self.__dict__.items()
        }


def t_test_power(effect: float, n: int, alpha: float = ALPHA) -> float:
    """Power of the two-sided one-sample (paired) t-test at standardised effect `effect` = delta / sd."""
    if n < 2:
        return math.nan
    df = n - 1
    crit = stats.t.ppf(1 - alpha / 2, df)
    nc = effect * math.sqrt(n)
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def queries_for_power(effect: float, power: float = POWER, alpha: float = ALPHA) -> int | None:
    """Fewest queries (>= 2) at which the paired t-test reaches `power` for standardised effect `effect`."""
    if not 0 < power < 1:
        raise InputError(f"power must be between 0 and 1, got {power}", "--power")
    if effect == 0 or not math.isfinite(effect):
        return None
    lo, hi = 2, 2
    while t_test_power(effect, hi, alpha) < power:
        if hi >= MAX_QUERIES:
            return None
        lo, hi = hi + 1, min(hi * 2, MAX_QUERIES)  # the cap itself is tried (it was stepped over)
    while lo < hi:  # power grows with n: the first n that reaches it
        mid = (lo + hi) // 2
        if t_test_power(effect, mid, alpha) >= power:
            hi = mid
        else:
            lo = mid + 1
    return hi


def sensitivity(
    deltas: Sequence[float], alpha: float = ALPHA, power: float = POWER
) -> tuple[float, float, int | None]:
    """(sd of the deltas, smallest delta significant at this n, queries needed for `power` at their mean).
    Deltas within TIE_TOL are 0, as for `compare`'s p-value and wins/ties/losses (a seed group's mean of
    identical values differs from the value by float rounding)."""
    d = np.asarray(deltas, dtype=np.float64)
    d = np.where(np.abs(d) <= TIE_TOL, 0.0, d)
    if len(d) < 2:
        return math.nan, math.nan, None
    sd = float(d.std(ddof=1))
    smallest = float(stats.t.ppf(1 - alpha / 2, len(d) - 1) * sd / math.sqrt(len(d)))
    if sd == 0:  # every query moved alike: any delta but 0 is a finding with 2 queries
        return sd, smallest, (2 if d.mean() != 0 else None)
    return sd, smallest, queries_for_power(float(d.mean()) / sd, power, alpha)


def power_table(result: CompareResult, alpha: float = ALPHA, power: float = POWER) -> list[Power]:
    """The sensitivity of every comparison of a `compare` result, in its order."""
    out = []
    for c in result.comparisons:
        deltas = list(result.deltas(c.run, c.measure, c.baseline).values())
        sd, smallest, needed = sensitivity(deltas, alpha, power)
        out.append(Power(c.measure, c.baseline, c.run, len(deltas), c.delta, sd, smallest, needed))
    return out


def format_power(rows: Sequence[Power], alpha: float = ALPHA, power: float = POWER) -> str:
    """Plain-text lines under `compare`'s table."""
    lines = [f"sensitivity (paired t-test, alpha {alpha:g}, power {power:g}):"]
    several = several_baselines(rows)
    for r in rows:
        if r.queries_needed is not None:
            need = f"{r.queries_needed:,} queries"
        elif r.queries < 2:
            need = "more than one query to tell"
        else:
            need = "no number of queries (delta 0)" if r.delta == 0 else f"over {MAX_QUERIES:,} queries"
        name = f"{r.run} vs {r.baseline}" if several else r.run
        lines.append(
            f"  {r.measure} {name}: per-query sd {r.sd_delta:.4f}; a finding with these {r.queries} queries "
            f"needs |delta| >= {r.min_detectable:.4f}; the observed {r.delta:+.4f} needs {need}"
        )
    return "\n".join(lines)
