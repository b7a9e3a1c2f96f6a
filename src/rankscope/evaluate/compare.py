"""`compare`: is a run better than a baseline, or is the difference noise? Paired tests over queries.

For each measure and each run against the first (the baseline): both means, the delta, a paired two-sided
t-test over queries (scipy's `ttest_rel`), a seeded percentile-bootstrap 95% CI of the mean delta, and
wins/ties/losses; with more than one run compared, Holm-corrected p-values over the comparisons of each
measure. With `pairs`, every run is compared with every earlier one instead (the thirds of a layer study
against each other), Holm over all the pairs of each measure. A query judged in the qrels and missing from
a run scores 0 there (`metrics.per_query`).

A run may be a group of runs (the seeds of one configuration; on the command line, files joined by
commas): each query's value is then the mean over the group, so the test is over queries with the seed
variance averaged out, as the seed studies in docs/results.md read them.

Degenerate cases, decided here: when every per-query difference is zero (identical runs) the p-value is
1.0 (no evidence of any difference; scipy would give nan). Otherwise scipy's value stands: 0.0 for an
exactly constant non-zero difference (t is infinite), nan with a single query (reads as noise, null in
JSON).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import stats

from rankscope.data._io import subset_qrels
from rankscope.data.formats import read_qrels_file
from rankscope.data.readers import read_candidates, read_trec_run, refuse_nan
from rankscope.data.types import Qrels
from rankscope.errors import InputError
from rankscope.evaluate.metrics import (
    Run,
    default_measures,
    measure_names,
    parse_measures,
    per_query,
    warn_missing,
)

RunLike = Mapping[str, Mapping[str, float]] | str | Path
RunGroup = RunLike | Sequence[RunLike]
"""A run, or several (seeds) whose per-query values are averaged."""
QrelsLike = Mapping[str, Mapping[str, int]] | str | Path
PerQuery = Mapping[str, Mapping[str, float]]
"""measure -> query id -> value."""
Verdict = Literal["finding", "noise"]
ALPHA = 0.05
TIE_TOL = 1e-12
_BOOT_CHUNK = 1000


@dataclass(frozen=True)
class Comparison:
    """One run against the baseline on one measure."""

    measure: str
    baseline: str
    run: str
    mean_baseline: float
    mean_run: float
    delta: float
    p_value: float
    ci_low: float
    ci_high: float
    wins: int
    ties: int
    losses: int
    p_holm: float | None = None
    """Holm-corrected p over the comparisons of this measure; None with a single comparison."""

    @property
    def p(self) -> float:
        """The p-value a reading should use: Holm's where there is one."""
        return self.p_value if self.p_holm is None else self.p_holm

    def to_json(self) -> dict[str, Any]:
        keys = ["measure", "baseline", "run", "mean_baseline", "mean_run", "delta", "p_value"]
        keys += ["ci_low", "ci_high", "wins", "ties", "losses"] + (
            ["p_holm"] if self.p_holm is not None else []
        )
        return {k: _finite(getattr(self, k)) for k in keys}


@dataclass
class CompareResult:
    """Every comparison (measure-major, runs in the order given) and the per-query values behind them."""

    comparisons: list[Comparison]
    names: list[str]
    measures: list[str]
    values: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict, repr=False)
    """run name -> measure -> query id -> value."""

    def to_json(self) -> dict[str, Any]:
        return {"comparisons": [c.to_json() for c in self.comparisons]}

    def deltas(self, run: str, measure: str, baseline: str | None = None) -> dict[str, float]:
        """Per-query run minus baseline (the first run unless named), by query id."""
        base = self.values[baseline or self.names[0]][measure]
        other = self.values[run][measure]
        return {q: other[q] - base[q] for q in base}


def _finite(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def verdict(c: Comparison, alpha: float = ALPHA) -> Verdict:
    """'finding' when the (Holm-corrected, if any) p-value is below `alpha`, else 'noise'."""
    return "finding" if c.p < alpha else "noise"  # nan < alpha is False: noise


def reading(c: Comparison, alpha: float = ALPHA) -> str:
    """One sentence: 'run vs baseline on nDCG@10: +0.0312 [0.0101, 0.0544], p=0.004: finding'."""
    p = "nan" if math.isnan(c.p) else f"{c.p:.3g}"
    which = "p_holm" if c.p_holm is not None else "p"
    return (
        f"{c.run} vs {c.baseline} on {c.measure}: {c.delta:+.4f} [{c.ci_low:+.4f}, {c.ci_high:+.4f}], "
        f"{which}={p}, {c.wins}/{c.ties}/{c.losses} W/T/L: {verdict(c, alpha)}"
    )


def is_candidates_file(run: RunLike, candidates: bool | None = None) -> bool:
    """True for a run given as a candidates file: `candidates` says so for a file, or (None) its name ends
    in .jsonl(.gz); a TREC run file otherwise, or a dict."""
    if not isinstance(run, str | Path):
        return False
    return candidates if candidates is not None else Path(run).name.endswith((".jsonl", ".jsonl.gz"))


def load_run(run: RunLike, candidates: bool | None = None) -> Run:
    """A run as a dict: given as one, or read from a TREC run file or a candidates jsonl(.gz) file (told
    apart by `candidates`, or by name: `is_candidates_file`)."""
    if isinstance(run, str | Path):
        path = Path(run)
        if is_candidates_file(path, candidates):
            cands = read_candidates(path)
            return {q: {h.doc_id: h.score for h in hits} for q, hits in cands.hits.items()}
        return read_trec_run(path)
    out = {str(q): {str(d): float(s) for d, s in docs.items()} for q, docs in run.items()}
    for qid, docs in out.items():
        refuse_nan(docs, qid)  # files refuse theirs when read
    return out


def judged_run(run: RunLike, qrels: Qrels, candidates: bool | None = None) -> Run:
    """`load_run`, refusing a run that shares no query with the qrels: every measure would read 0 and the
    mistake (another collection's run or qrels, other query ids) would pass for a result."""
    loaded = load_run(run, candidates)
    if not loaded:  # every judged query would score 0 for it, as a real result
        raise InputError("an empty run: it ranks no query", run if isinstance(run, str | Path) else "run")
    if not any(q in qrels for q in loaded):
        where = run if isinstance(run, str | Path) else "run"
        first, judged = next(iter(loaded)), next(iter(qrels), None)
        msg = f"shares no query with the qrels (the run's first query is {first!r}, the qrels' {judged!r})"
        raise InputError(msg, where)
    return loaded


def load_qrels(qrels: QrelsLike) -> Qrels:
    """Qrels as a dict: given as one, or read from a file as `rankscope evaluate --qrels` reads it (TREC,
    BEIR, SMART or Cranfield, whose grades 1 = best .. 4 map to 4 .. 1)."""
    if isinstance(qrels, str | Path):
        return read_qrels_file(qrels)
    return {str(q): {str(d): int(r) for d, r in docs.items()} for q, docs in qrels.items()}


def group_members(run: RunGroup) -> list[RunLike]:
    """The runs of a group (a list or tuple of runs); a single run is a group of one."""
    if isinstance(run, list | tuple):
        if not run:
            raise InputError("an empty group of runs", "RUN")
        return list(run)
    return [run]  # type: ignore[list-item]


def _run_name(run: RunLike, i: int) -> str:
    if isinstance(run, str | Path):
        n = Path(run).name
        for suffix in (".gz", ".jsonl", ".trec", ".run", ".txt", ".tsv"):
            n = n.removesuffix(suffix)
        if n == "run" and Path(run).parent.name:  # RUN/run.trec: the run folder names it
            n = Path(run).parent.name
        return n or f"run{i}"
    return f"run{i}"


def run_names(runs: Sequence[RunGroup], names: Sequence[str] | None = None) -> list[str]:
    """The names given, or each file's name without run/jsonl/gz suffixes (its folder's for
    `RUN/run.trec`; `run<i>` for dicts; a group's first name and its size), unique."""
    if names is not None:
        if len(names) != len(runs):
            raise InputError(f"{len(names)} names for {len(runs)} runs", "names")
        out = [str(n) for n in names]
    else:
        out = []
        for i, r in enumerate(runs):
            members = group_members(r)
            n = _run_name(members[0], i)
            out.append(n if len(members) == 1 else f"{n} (mean of {len(members)})")
    return [n if out.count(n) == 1 else f"{n}#{i}" for i, n in enumerate(out)]


def average_values(tables: Sequence[PerQuery]) -> dict[str, dict[str, float]]:
    """Each query's value averaged over the tables (one per seed), on the measures and queries all hold."""
    shared = [m for m in tables[0] if all(m in t for t in tables)]
    out: dict[str, dict[str, float]] = {}
    for m in shared:
        qids = [q for q in tables[0][m] if all(q in t[m] for t in tables)]
        out[m] = {q: sum(t[m][q] for t in tables) / len(tables) for q in qids}
    return out


def paired_p(run: np.ndarray, base: np.ndarray) -> float:
    """Two-sided paired t-test p-value (scipy's ttest_rel); 1.0 when all differences are 0. Differences
    within TIE_TOL count as 0, as for wins/ties/losses: a seed group's mean of identical values differs
    from the value by float rounding (1e-17), which alone would read as a significant difference."""
    d = run - base
    tiny = np.abs(d) <= TIE_TOL
    if len(d) and tiny.all():
        return 1.0
    if len(d) < 2:
        return math.nan
    if tiny.any() and d[tiny].any():
        return float(stats.ttest_1samp(np.where(tiny, 0.0, d), 0.0).pvalue)
    return float(stats.ttest_rel(run, base).pvalue)


def bootstrap_ci(
    diff: np.ndarray, n_boot: int = 10000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of `diff`, resampling queries with replacement."""
    if len(diff) == 0:
        return math.nan, math.nan
    if n_boot < 1:
        raise InputError(f"n_boot must be at least 1, got {n_boot}", "n_boot")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for start in range(0, n_boot, _BOOT_CHUNK):  # bounded memory on large query sets
        n = min(_BOOT_CHUNK, n_boot - start)
        idx = rng.integers(0, len(diff), size=(n, len(diff)))
        means[start : start + n] = diff[idx].mean(axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); nan stays nan and does not
    count among the tests."""
    idx = [i for i, p in enumerate(pvalues) if not math.isnan(p)]
    m = len(idx)
    out = [math.nan] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def several_baselines(rows: Sequence[Any]) -> bool:
    """True when comparisons (or rows with a `baseline`) have more than one baseline, as `pairs` gives:
    each row must then name its own."""
    return len({r.baseline for r in rows}) > 1


def _pairs(n: int, pairs: bool) -> list[tuple[int, int]]:
    """(baseline, run) indices: each run against the first, or with `pairs` against each earlier run."""
    return [(i, j) for j in range(1, n) for i in (range(j) if pairs else [0])]


def compare_values(
    values: Sequence[PerQuery],
    names: Sequence[str],
    n_boot: int = 10000,
    seed: int = 0,
    pairs: bool = False,
) -> CompareResult:
    """Compare per-query values (one `measure -> query -> value` table per run, the first the baseline;
    with `pairs`, each run against each earlier run).

    Every table must hold the same measures and, per measure, the same queries: tables computed against
    one qrels (as `metrics.per_query` makes them) do."""
    if len(values) < 2:
        raise InputError(f"compare needs a baseline and at least one run, got {len(values)}", "RUN")
    if len(names) != len(values):
        raise InputError(f"{len(names)} names for {len(values)} runs", "names")
    if len(set(names)) != len(names):
        raise InputError(f"run names must differ: {list(names)}", "names")
    measures = list(values[0])
    for n, v in zip(names, values, strict=True):
        if list(v) != measures:
            raise InputError(f"run '{n}' has measures {list(v)}, the baseline {measures}", n)
    comparisons: list[Comparison] = []
    for m in measures:
        qids = sorted(values[0][m])
        for n, v in zip(names[1:], values[1:], strict=True):
            if set(v[m]) != set(qids):
                raise InputError(f"run '{n}' is judged on other queries than the baseline for {m}", n)
        arrays = [np.array([v[m][q] for q in qids], dtype=np.float64) for v in values]
        rows = []
        for i, j in _pairs(len(values), pairs):
            base, run = arrays[i], arrays[j]
            diff = run - base
            lo, hi = bootstrap_ci(diff, n_boot, seed)
            wins = int((diff > TIE_TOL).sum())
            losses = int((diff < -TIE_TOL).sum())
            rows.append(
                dict(
                    measure=m,
                    baseline=names[i],
                    run=names[j],
                    mean_baseline=float(base.mean()) if len(base) else math.nan,
                    mean_run=float(run.mean()) if len(run) else math.nan,
                    delta=float(diff.mean()) if len(diff) else math.nan,
                    p_value=paired_p(run, base),
                    ci_low=lo,
                    ci_high=hi,
                    wins=wins,
                    ties=len(diff) - wins - losses,
                    losses=losses,
                )
            )
        if len(rows) > 1:
            for r, ph in zip(rows, holm([r["p_value"] for r in rows]), strict=True):
                r["p_holm"] = ph
        comparisons += [Comparison(**r) for r in rows]
    table = {n: {m: dict(v[m]) for m in measures} for n, v in zip(names, values, strict=True)}
    return CompareResult(comparisons, list(names), measures, table)


def compare(
    runs: Sequence[RunGroup],
    qrels: QrelsLike,
    measures: Sequence[str] | str | None = None,
    names: Sequence[str] | None = None,
    n_boot: int = 10000,
    seed: int = 0,
    pairs: bool = False,
) -> CompareResult:
    """Compare each run with the first (the baseline), or with `pairs` each run with each earlier one, on
    every judged query of `qrels`.

    Runs are dicts `{qid: {docid: score}}` or paths of TREC run files (or candidates jsonl(.gz)), or
    lists of them (seeds: each query's value is the group's mean); `measures` default to
    `metrics.default_measures(qrels)`. A judged query missing from a run scores 0 for it, with a logged
    warning; candidates files are their own query set, as `rankscope evaluate` reads one (only the
    judged queries some candidates file lists count); an empty run is refused."""
    judged = load_qrels(qrels)
    if not judged:
        raise InputError("the qrels judge no query", "--qrels")
    ms = [str(p) for p in parse_measures(measure_names(measures) or [])]  # a bad name before any run is read
    labels = run_names(runs, names)
    loaded = [[judged_run(r, judged) for r in group_members(g)] for g in runs]
    members = [r for g in runs for r in group_members(g)]
    flat = [run for group in loaded for run in group]
    listed = [run for r, run in zip(members, flat, strict=True) if is_candidates_file(r)]
    if listed:  # a candidates file is its own query set, as `rankscope evaluate` reads it (one warning)
        source = str(qrels) if isinstance(qrels, str | Path) else "qrels"
        judged = subset_qrels(judged, {q for run in listed for q in run}, source)
    for label, group in zip(labels, loaded, strict=True):
        for run in group:
            warn_missing(run, judged, label)
    ms = ms or [str(p) for p in parse_measures(default_measures(judged))]  # on the qrels compared
    tables = [average_values([per_query(run, judged, ms) for run in group]) for group in loaded]
    return compare_values(tables, labels, n_boot, seed, pairs)


def format_table(result: CompareResult, alpha: float = ALPHA) -> str:
    """A plain-text table, one line per comparison, for a terminal."""
    holm_col = any(c.p_holm is not None for c in result.comparisons)
    several = several_baselines(result.comparisons)
    head = ["measure", "run vs baseline" if several else "run", "baseline", "mean", "delta", "95% CI", "p"]
    head += ["p_holm"] if holm_col else []
    head += ["W/T/L", "reading"]
    rows = [head]
    for c in result.comparisons:
        row = [
            c.measure,
            f"{c.run} vs {c.baseline}" if several else c.run,
            f"{c.mean_baseline:.4f}",
            f"{c.mean_run:.4f}",
            f"{c.delta:+.4f}",
            f"[{c.ci_low:+.4f}, {c.ci_high:+.4f}]",
            _fmt_p(c.p_value),
        ]
        row += [_fmt_p(c.p_holm)] if holm_col else []
        row += [f"{c.wins}/{c.ties}/{c.losses}", verdict(c, alpha)]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        "  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    base = "each run against each earlier one" if several else f"baseline: {result.names[0]}"
    return "\n".join(line.rstrip() for line in lines) + f"\n{base}; finding = p < {alpha:g}"


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "-"
    if math.isnan(p):
        return "nan"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.4f}"
