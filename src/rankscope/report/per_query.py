"""Per-query values of a sweep's runs and their paired comparison with the baseline run (`compare`).

Training stores only mean dev metrics (metrics.jsonl, summary.json), so per-query values come from files a
run folder may hold, looked up in this order:

- `dev_per_query.json`: `{measure: {query id: value}}`, as `metrics.per_query` returns it;
- `dev_run.trec`: the final dev reranking as a TREC run, scored against `qrels` (an argument, else
  `dev_qrels.txt` in the run folder, else in the sweep folder);
- `dev_runs/step-N.trec`, as training writes them: the final step's (summary.json's `final_dev`, else the
  highest N), scored the same way.

A sweep run with several seeds (results rows holding `config` and `seed`, as `sweep` writes them with
`seeds:`) is compared per configuration: each query's value is averaged over the configuration's seeds,
then the paired test runs over queries.

A run folder with neither is listed as missing; the report says so rather than guessing.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankscope.errors import InputError
from rankscope.evaluate.compare import CompareResult, QrelsLike, average_values, compare_values, load_qrels
from rankscope.evaluate.metrics import default_measures, per_query

log = logging.getLogger("rankscope.report")
RESULTS_FILE = "results.jsonl"  # as rankscope.sweep writes them (not imported: sweep sits above report)
RUNS_DIR = "runs"
PER_QUERY_FILE = "dev_per_query.json"
DEV_RUN_FILE = "dev_run.trec"
DEV_QRELS_FILE = "dev_qrels.txt"
DEV_RUNS_DIR = "dev_runs"
PerQueryTable = dict[str, dict[str, float]]


@dataclass
class SweepDeltas:
    """The sweep's runs with per-query values compared with the baseline (the first of them), and the
    runs that had none."""

    result: CompareResult
    missing: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    """run name -> the file its per-query values came from."""
    seed_means: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    """with seeds: configuration -> measure -> each seed's mean over queries."""

    def to_json(self) -> dict[str, Any]:
        extra = {"seed_means": self.seed_means} if self.seed_means else {}
        return {**self.result.to_json(), "missing": self.missing, "sources": self.sources, **extra}


def read_per_query(path: str | Path) -> PerQueryTable:
    """A `dev_per_query.json` file: measure -> query id -> value."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read per-query values ({e})", path) from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise InputError("expected {measure: {query id: value}}", path)
    return {str(m): {str(q): float(x) for q, x in v.items()} for m, v in data.items()}


def _results(sweep_dir: Path) -> list[dict[str, Any]]:
    """The sweep's result rows that name a run, in grid order (the baseline is the grid's first point, not
    the first to finish)."""
    from rankscope.sweep import in_grid_order, read_results

    rows = [r for r in read_results(sweep_dir) if isinstance(r, dict) and "name" in r]
    return in_grid_order(rows, sweep_dir)


def _qrels_for(run_dir: Path, sweep_dir: Path | None, qrels: QrelsLike | None) -> QrelsLike | None:
    if qrels is not None:
        return qrels
    for folder in (run_dir, sweep_dir):
        if folder is not None and (folder / DEV_QRELS_FILE).is_file():
            return folder / DEV_QRELS_FILE
    return None


def final_dev_run(run_dir: Path) -> Path | None:
    """`dev_runs/step-N.trec` of the final dev evaluation (summary.json), else of the highest step."""
    folder = run_dir / DEV_RUNS_DIR
    if not folder.is_dir():
        return None
    summary = run_dir / "summary.json"
    if summary.is_file():
        try:
            step = (json.loads(summary.read_text()).get("final_dev") or {}).get("step")
        except (OSError, json.JSONDecodeError, AttributeError):
            step = None
        if step is not None and (folder / f"step-{step}.trec").is_file():
            return folder / f"step-{step}.trec"
    steps = []
    for f in folder.glob("step-*.trec"):
        with contextlib.suppress(ValueError):
            steps.append((int(f.stem.removeprefix("step-")), f))
    return max(steps)[1] if steps else None


def average_seeds(tables: Sequence[PerQueryTable]) -> PerQueryTable:
    """Each query's value averaged over the tables (one per seed), on the measures and queries all hold."""
    return average_values(tables)


def run_per_query(
    run_dir: str | Path,
    qrels: QrelsLike | None = None,
    measures: Sequence[str] | None = None,
    sweep_dir: str | Path | None = None,
) -> tuple[PerQueryTable, Path] | None:
    """A run folder's per-query dev values and the file they came from, or None where it holds none.

    From `dev_per_query.json` (restricted to `measures` when given), else from `dev_run.trec` and the
    qrels (default measures: nDCG@10 and RR@10, at rel>=2 on graded qrels, as the dev evaluation uses)."""
    run_dir = Path(run_dir)
    stored = run_dir / PER_QUERY_FILE
    if stored.is_file():
        table = read_per_query(stored)
        if measures:
            table = {m: table[m] for m in measures if m in table}
        return (table, stored) if table else None
    run_file: Path | None = run_dir / DEV_RUN_FILE
    if not run_file.is_file():
        run_file = final_dev_run(run_dir)
    judged = _qrels_for(run_dir, Path(sweep_dir) if sweep_dir else None, qrels)
    if run_file is None or judged is None:
        return None
    from rankscope.data.readers import read_trec_run

    q = load_qrels(judged)
    return per_query(read_trec_run(run_file), q, list(measures or default_measures(q)[:2])), run_file


def sweep_per_query(
    sweep_dir: str | Path,
    qrels: QrelsLike | None = None,
    measures: Sequence[str] | None = None,
    baseline: str | None = None,
    n_boot: int = 10000,
    seed: int = 0,
) -> SweepDeltas | None:
    """Compare every run of a sweep folder (grid order) with the baseline run (`baseline`, else the first
    with per-query values) on the measures all of them hold; None when fewer than two runs
    have per-query values."""
    sweep_dir = Path(sweep_dir)
    rows = _results(sweep_dir)
    folders = {str(r["name"]): sweep_dir / str(r.get("run") or Path(RUNS_DIR, str(r["name"]))) for r in rows}
    if not folders and (sweep_dir / RUNS_DIR).is_dir():  # no results.jsonl: the run folders themselves
        folders = {p.name: p for p in sorted((sweep_dir / RUNS_DIR).iterdir()) if p.is_dir()}
    names = list(folders)
    tables: dict[str, PerQueryTable] = {}
    sources: dict[str, str] = {}
    missing: list[str] = []
    for n in names:
        try:
            got = run_per_query(folders[n], qrels, measures, sweep_dir)
        except (OSError, ValueError, KeyError, TypeError, InputError) as e:  # one run's damaged file
            log.warning("per-query values of %s left out: %s", n, e)
            got = None
        if got is None:
            missing.append(n)
            continue
        tables[n], src = got
        sources[n] = str(src.relative_to(sweep_dir)) if src.is_relative_to(sweep_dir) else str(src)
    seeded = {str(r["name"]): str(r["config"]) for r in rows if "seed" in r and "config" in r}
    seed_means: dict[str, dict[str, list[float]]] = {}
    if seeded:
        for n, t in tables.items():
            means = seed_means.setdefault(seeded.get(n, n), {})
            for m, v in t.items():
                means.setdefault(m, []).append(sum(v.values()) / len(v) if v else float("nan"))
        tables, sources = _by_config(tables, sources, seeded)
    if baseline is not None:
        if baseline not in tables:  # a configuration's name when the sweep ran seeds
            raise InputError(f"baseline run '{baseline}' has no per-query values", sweep_dir / RESULTS_FILE)
        tables = {baseline: tables[baseline], **{k: v for k, v in tables.items() if k != baseline}}
    if len(tables) < 2:
        log.info("per-query deltas: %d run(s) with per-query values, need 2", len(tables))
        return None
    shared = [m for m in next(iter(tables.values())) if all(m in t for t in tables.values())]
    if not shared:
        raise InputError("the runs' per-query files share no measure", sweep_dir)
    values = [{m: t[m] for m in shared} for t in tables.values()]
    result = compare_values(values, list(tables), n_boot, seed)
    return SweepDeltas(result, missing, sources, seed_means)


def _by_config(
    tables: dict[str, PerQueryTable], sources: dict[str, str], config_of: dict[str, str]
) -> tuple[dict[str, PerQueryTable], dict[str, str]]:
    """Per-seed tables -> one seed-averaged table per configuration (first-seen order)."""
    groups: dict[str, list[str]] = {}
    for name in tables:
        groups.setdefault(config_of.get(name, name), []).append(name)
    averaged = {c: average_seeds([tables[n] for n in names]) for c, names in groups.items()}
    joined = {c: ", ".join(sources[n] for n in names) for c, names in groups.items()}
    return averaged, joined
