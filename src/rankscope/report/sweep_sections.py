"""Report sections of a sweep folder: the results table with its bar chart, and the per-query deltas of
each run against the baseline run (paired tests from `evaluate.compare`)."""

from __future__ import annotations

import contextlib
import csv
import math
from pathlib import Path
from typing import Any

from rankscope.evaluate.compare import QrelsLike, reading, verdict
from rankscope.evaluate.power import power_table
from rankscope.report import figures_inspect as FI
from rankscope.report.figures_compare import delta_strips
from rankscope.report.page import Builder, Section, table
from rankscope.report.per_query import DEV_RUN_FILE, PER_QUERY_FILE, sweep_per_query


def read_sweep(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".csv":
        with path.open() as fh:
            rows: list[dict[str, Any]] = list(csv.DictReader(fh))
        for r in rows:
            for k, v in r.items():
                with contextlib.suppress(TypeError, ValueError):
                    r[k] = float(v)
        return rows
    from rankscope.sweep import read_results

    return read_results(path.parent)  # results.jsonl: a line cut by a kill or a full disk is skipped


def sweep_section(path: Path, b: Builder) -> Section | None:
    from rankscope.sweep import in_grid_order

    rows = in_grid_order(read_sweep(path), path.parent)
    if not rows:
        return None
    keys = list(dict.fromkeys(k for r in rows for k in r))
    numeric = [
        k
        for k in keys
        if any(isinstance(r.get(k), int | float) and not isinstance(r.get(k), bool) for r in rows)
    ]
    name_key = next((k for k in ("name", "run", "id") if k in keys), keys[0])
    metric = next((k for k in ("nDCG@10", *numeric) if k in numeric), None)
    s = Section("sweep", "Sweep results")
    if metric:
        vals = [
            (r[metric], str(r.get(name_key)))
            for r in rows
            if isinstance(r.get(metric), int | float) and math.isfinite(r[metric])  # a diverged run's nan
        ]
        if not vals:
            s.parts.append(table(keys, [[r.get(k) for k in keys] for r in rows]))
            return s
        best = max(vals)
        s.numbers = {"metric": metric, "best": best[1], "best_value": best[0]}
        configs = _config_means(rows, metric)
        if configs:  # seeds: a configuration is judged by its mean, not by its luckiest seed
            name, mean, sd, n = max(configs, key=lambda c: c[1])
            s.findings.append(
                f"Best configuration by mean {metric} over its seeds: {name} ({mean:.4g} +- {sd:.2g}, "
                f"{n} seeds) of {len(configs)}; the best single run is {best[1]} ({best[0]:.4g})."
            )
            s.numbers.update(best_config=name, best_config_mean=mean, best_config_sd=sd)
        else:
            s.findings.append(f"Best run by {metric}: {best[1]} ({best[0]:.4g}) of {len(rows)}.")
        b.figure(s, "sweep", FI.sweep_figure(rows, metric, name_key))
    s.parts.append(table(keys, [[r.get(k) for k in keys] for r in rows]))
    return s


def _config_means(rows: list[dict[str, Any]], metric: str) -> list[tuple[str, float, float, int]]:
    """(configuration, mean, sample sd, seeds) of a sweep with seeds (rows carry "config"), grid order;
    [] without seeds."""
    groups: dict[str, list[float]] = {}
    for r in rows:
        v = r.get(metric)
        if "config" in r and isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            groups.setdefault(str(r["config"]), []).append(float(v))
    out = []
    for name, vs in groups.items():
        mean = sum(vs) / len(vs)
        sd = math.sqrt(sum((v - mean) ** 2 for v in vs) / (len(vs) - 1)) if len(vs) > 1 else 0.0
        out.append((name, mean, sd, len(vs)))
    return out


def per_query_section(sweep_dir: Path, b: Builder, qrels: QrelsLike | None) -> Section | None:
    """Each sweep run's per-query dev values against the first run's: strips, compare() table, readings."""
    deltas = sweep_per_query(sweep_dir, qrels)
    if deltas is None:
        return None
    res = deltas.result
    s = Section("per_query", f"Per-query deltas against {res.names[0]}")
    primary = "nDCG@10" if "nDCG@10" in res.measures else res.measures[0]
    power = power_table(res)
    for c, pw in zip(res.comparisons, power, strict=True):
        if c.measure != primary:
            continue
        text = reading(c)
        if verdict(c) == "noise" and math.isfinite(pw.min_detectable):
            text += f" (with these {pw.queries} queries a finding needs |delta| >= {pw.min_detectable:.4f})"
        s.findings.append(text + ".")
    if deltas.missing:
        s.findings.append(
            f"No per-query values ({PER_QUERY_FILE}, or {DEV_RUN_FILE} with qrels) for: "
            + ", ".join(deltas.missing)
            + "."
        )
    s.numbers = deltas.to_json()
    for m in res.measures:
        safe = "".join(ch if ch.isalnum() else "_" for ch in m)
        b.figure(
            s,
            f"per_query_{safe}",
            delta_strips(res, m),
            "Each dot a dev query; paired t-test p (Holm-corrected over runs when more than one), "
            "bootstrap 95% CI of the mean delta; finding = p < 0.05.",
        )
    rows = [
        [
            c.measure,
            c.run,
            c.mean_baseline,
            c.mean_run,
            c.delta,
            f"[{c.ci_low:+.4f}, {c.ci_high:+.4f}]",
            c.p_value,
            c.p_holm,
            f"{c.wins}/{c.ties}/{c.losses}",
            verdict(c),
            pw.min_detectable,
            pw.queries_needed,
        ]
        for c, pw in zip(res.comparisons, power, strict=True)
    ]
    s.parts.append(
        table(
            [
                "measure",
                "run",
                f"{res.names[0]}",
                "run mean",
                "delta",
                "95% CI",
                "p",
                "p_holm",
                "W/T/L",
                "reading",
                "smallest finding |delta|",
                "queries for 80% power",
            ],
            rows,
        )
    )
    return s
