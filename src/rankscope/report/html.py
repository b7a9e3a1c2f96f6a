"""`write_report(run_dir)`: one self-contained HTML page (PNG figures embedded as base64, tables, findings in
plain words), the PNGs and summary.json beside it. Sections appear only for what the folder holds."""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rankscope.errors import InputError
from rankscope.evaluate.compare import QrelsLike
from rankscope.inspect.ablation import ABLATION_FILE, load_ablation
from rankscope.inspect.attention import ATTENTION_FILE, load_attention
from rankscope.inspect.deltas import DELTAS_FILE, load_deltas
from rankscope.inspect.gradnorms import GRADNORMS_FILE, load_gradnorms
from rankscope.inspect.health import HEALTH_KEY, verdicts
from rankscope.inspect.probes import PROBES_FILE, load_probes
from rankscope.inspect.trajectory import LOSS_FILE, METRICS_FILE, read_rows, trajectory
from rankscope.io import atomic_file
from rankscope.report import figures as F
from rankscope.report import figures_inspect as FI
from rankscope.report import findings as S
from rankscope.report.figures import layer_range, thirds
from rankscope.report.figures_health import health_figure
from rankscope.report.page import Builder, Section, table
from rankscope.report.per_query import RUNS_DIR
from rankscope.report.sweep_sections import per_query_section, sweep_section
from rankscope.trained import SOUP_FILE

log = logging.getLogger("rankscope.report")
REPORT_FILE = "report.html"
SUMMARY_FILE = "summary.json"
SWEEP_FILES = ("results.jsonl", "results.csv")
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1180px;
margin:24px auto;padding:0 16px;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:0}h2{border-bottom:2px solid #eee;padding-bottom:4px;margin-top:2em}
.meta{color:#777;font-size:.9em}img{max-width:100%;display:block;margin:10px 0}
table{border-collapse:collapse;font-size:.85em;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:right}th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}
.findings{background:#f7faf7;border-left:4px solid #1b9e77;padding:8px 16px}
.findings li{margin:3px 0}pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:.8em}
.note{color:#a33}nav a{margin-right:12px}
"""


def find(run_dir: Path, name: str) -> Path | None:
    """`name` in the run folder or its inspect/ subfolder."""
    for p in (run_dir / name, run_dir / "inspect" / name):
        if p.is_file():
            return p
    return None


def _trajectory(run_dir: Path, b: Builder) -> Section | None:
    if not find(run_dir, LOSS_FILE) and not find(run_dir, METRICS_FILE):
        return None
    traj = trajectory(run_dir)
    if not len(traj.steps) and not traj.checkpoints:
        return None
    s = Section("trajectory", "Training trajectory")
    f = S.trajectory_findings(traj)
    s.findings, s.numbers = f.sentences, f.numbers
    b.figure(
        s,
        "trajectory",
        F.trajectory_figure(traj),
        "Red dashed line: the steepest drop of the smoothed loss, drawn where it stands out from the "
        "loss's step-to-step noise.",
    )
    if traj.checkpoints:
        keys = [k for k in traj.checkpoints[0] if k not in ("step", HEALTH_KEY)]
        s.parts.append(
            table(["step", *keys], [[r.get("step"), *[r.get(k) for k in keys]] for r in traj.checkpoints])
        )
    return s


def _health(run_dir: Path, b: Builder) -> Section | None:
    """The health verdicts (as train.log ends with them) and their curves, when metrics.jsonl has them."""
    metrics = find(run_dir, METRICS_FILE)
    rows = read_rows(metrics) if metrics else []
    if not any(isinstance(r.get(HEALTH_KEY), dict) for r in rows):
        return None
    loss_path = find(run_dir, LOSS_FILE)
    losses = read_rows(loss_path) if loss_path else []
    summary = run_dir / "summary.json"
    best = json.loads(summary.read_text()).get("best_checkpoint") if summary.is_file() else None
    measure = best["measure"] if best and best.get("measure") != "dev_loss" else None
    found = verdicts(rows, losses, measure)
    s = Section("health", "Training health", findings=[f"Verdict: {v.line}." for v in found])
    s.numbers = {"verdicts": [{"kind": v.kind, "step": v.step, "line": v.line} for v in found]}
    if best:
        s.findings.append(f"Best checkpoint: step {best['step']} ({best['measure']} {best['value']:.4f}).")
        s.numbers["best_checkpoint"] = best
    b.figure(s, "health", health_figure(rows, losses, measure or "nDCG@10", found))
    keys = list(next(r[HEALTH_KEY] for r in rows if isinstance(r.get(HEALTH_KEY), dict)))
    table_rows = [[r["step"], *[r[HEALTH_KEY].get(k) for k in keys]] for r in rows if HEALTH_KEY in r]
    s.parts.append(table(["step", *keys], table_rows))
    return s


def _gradnorms(path: Path, b: Builder) -> Section:
    hist = load_gradnorms(path)
    s = Section("gradnorms", "Gradient norms")
    f = S.gradnorm_findings(hist)
    s.findings, s.numbers = f.sentences, f.numbers
    hist = hist.finite()[0]  # the figure's log colour scale cannot place nan or inf
    if len(hist.steps) and hist.n_layers and hist.trained.any():
        b.figure(
            s,
            "gradnorm_heatmap",
            F.gradnorm_heatmaps(hist),
            "Per-layer L2 norm of the trained tensors' gradients at each optimizer step"
            + (
                f", after clipping to {hist.max_grad_norm:g} (clipping keeps a step's shares, but steps "
                "it scaled down weigh less in the totals summed over steps)."
                if hist.max_grad_norm
                else "."
            ),
        )
        b.figure(s, "gradnorm_groups", F.gradnorm_groups(hist))
        share = np.array(f.numbers["layer_share"])
        rows = [
            [f"{n} ({layer_range(r)})", float(share[list(r)].sum())]
            for n, r in thirds(hist.n_layers).items()
            if len(r)
        ]
        rows += [[c, v] for c, v in f.numbers["component_share"].items()]
        s.parts.append(table(["group", "share of gradient mass"], rows))
    if hist.extra_names:
        mean = hist.extra.mean(axis=0) if len(hist.steps) else np.zeros(len(hist.extra_names))
        s.parts.append(
            table(
                ["outside the blocks", "mean norm"], list(zip(hist.extra_names, mean.tolist(), strict=True))
            )
        )
    return s


def _deltas(path: Path, b: Builder) -> Section:
    d = load_deltas(path)
    s = Section("deltas", "Weight deltas")
    f = S.delta_findings(d)
    s.findings, s.numbers = f.sentences, f.numbers
    b.figure(
        s,
        "delta_heatmap",
        F.delta_heatmap(d),
        "Frobenius norm of each trained weight's change W − W₀ from the base model."
        if d.kind == "full"
        else "Frobenius norm of each adapter's scaled update scale·B·A.",
    )
    totals = f.numbers.get("total_norm_per_checkpoint", [])
    rows = [[lab, int(st), t] for lab, st, t in zip(d.labels, d.steps, totals, strict=False)]
    s.parts.append(table(["checkpoint", "step", "total update norm"], rows))
    return s


def _probes(path: Path, b: Builder) -> Section:
    p = load_probes(path)
    s = Section("probes", "Linear probes")
    f = S.probe_findings(p)
    s.findings, s.numbers = f.sentences, f.numbers
    b.figure(s, "probes", FI.probe_figure(p))
    if p.pca:
        b.figure(
            s, "probe_pca", FI.pca_figure(p), "2-D PCA of standardised hidden states at the scoring position."
        )
    readout = any(c is not None and c.readout_auc is not None for c in (p.base, p.tuned))
    rows = []
    for i in p.layers:
        row: list[Any] = [i]
        for c in (p.base, p.tuned):
            row += [c.auc[i], c.accuracy[i]] if c else [None, None]
            if readout:
                row.append(c.readout_auc[i] if c and c.readout_auc else None)
        rows.append(row)
    heads = ["layer"]
    for side in ("base", "fine-tuned"):
        heads += [f"{side} AUC", f"{side} acc."] + ([f"{side} cosine AUC"] if readout else [])
    s.parts.append(table(heads, rows))
    return s


def _attention(path: Path, b: Builder) -> Section:
    a = load_attention(path)
    s = Section("attention", "Attention between query and document")
    f = S.attention_findings(a)
    s.findings, s.numbers = f.sentences, f.numbers
    measures = FI.active_measures(a)
    if measures:
        b.figure(s, "attention", FI.attention_figure(a), f"Averaged over {a.n_pairs} pairs; eager attention.")
        if a.after:
            b.figure(
                s,
                "attention_change",
                FI.attention_change_figure(a),
                "After minus before, per layer and head.",
            )
    headers = ["layer"] + [
        f"{m} {w}" for m in measures for w in (("before", "after") if a.after else ("before",))
    ]
    rows = []
    n_layers = next(iter(a.before.values())).shape[0] if measures else 0
    for ly in range(n_layers):
        row: list[Any] = [ly]
        for m in measures:
            row.append(float(a.before[m][ly].mean()))
            if a.after:
                row.append(float(a.after[m][ly].mean()))
        rows.append(row)
    s.parts.append(table(headers, rows))
    return s


def _ablation(path: Path, b: Builder) -> Section:
    a = load_ablation(path)
    s = Section("ablation", a.title)
    f = S.ablation_findings(a)
    s.findings, s.numbers = f.sentences, f.numbers
    gain = S.has_gain(a)  # without a gain, shares of it are not shown
    if gain and any(r.kind != "window" for r in a.rows):
        b.figure(
            s, "ablation", FI.ablation_bars(a), "share = (ablated − zero-shot) / (fine-tuned − zero-shot)"
        )
    if gain and a.windows is not None:
        b.figure(s, "ablation_windows", FI.window_heatmap(a))
    rows = [
        ["zero-shot", a.modules, *[a.zero_shot[m] for m in a.measures], 0.0 if gain else None],
        ["fine-tuned", 0, *[a.finetuned[m] for m in a.measures], 1.0 if gain else None],
    ]
    rows += [
        [r.name, r.modules_off, *[r.metrics[m] for m in a.measures], r.share.get(a.primary) if gain else None]
        for r in a.rows
    ]
    off = "modules off" if a.updates == "adapters" else "tensors off"
    s.parts.append(table(["ablation", off, *a.measures, f"share ({a.primary})"], rows))
    if a.skipped:
        s.parts.append(table(["skipped", "why"], list(a.skipped.items())))
    return s


def _overview(run_dir: Path) -> Section | None:
    parts = []
    spec = run_dir / "spec.yaml"
    summary = run_dir / "summary.json"
    if summary.is_file():
        data = json.loads(summary.read_text())
        flat = [[k, v if not isinstance(v, dict | list) else json.dumps(v)] for k, v in data.items()]
        parts.append(table(["run summary", "value"], flat))
    soup = run_dir / SOUP_FILE
    if soup.is_file():
        ingredients = json.loads(soup.read_text())["ingredients"]
        parts.append(
            "<p>A soup (rankscope soup): the weighted mean of these fine-tunes' trained weights; the spec "
            "below is the first ingredient's, and the training sections describe no run of the soup.</p>"
        )
        parts.append(table(["ingredient", "weight"], [[i["checkpoint"], i["weight"]] for i in ingredients]))
    if spec.is_file():
        parts.append(
            f"<details><summary>spec.yaml</summary><pre>{html.escape(spec.read_text())}</pre></details>"
        )
    return Section("run", "Run", parts=parts) if parts else None


def write_report(
    run_dir: str | Path, out_dir: str | Path | None = None, qrels: QrelsLike | None = None
) -> Path:
    """Write report.html, its PNGs and summary.json for `run_dir` into `out_dir` (default run_dir/report).

    `qrels` (a path or dict) scores the dev run files of a sweep's runs for per-query deltas, where the
    run folders hold no qrels of their own."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError("no such run folder", run_dir)
    out = Path(out_dir) if out_dir else run_dir / "report"
    if out.resolve() == run_dir.resolve():
        raise InputError("write the report into its own folder, not the run folder (its summary.json)", out)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder: the report is written into a folder", out)
    if (out / "spec.yaml").is_file() or (
        (out / "summary.json").is_file() and not (out / "report.html").exists()
    ):
        # another run's folder: its training summary.json would be replaced by the report's
        raise InputError(
            "holds a run (spec.yaml or a training summary.json): give the report its own folder", out
        )
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    b = Builder(out)
    sections: list[Section] = []
    errors: dict[str, str] = {}
    steps: list[tuple[str, Callable[[], Section | None]]] = [
        ("trajectory", lambda: _trajectory(run_dir, b)),
        ("health", lambda: _health(run_dir, b)),
    ]
    # the sweep's results once: results.csv only where there is no results.jsonl (a copy of it)
    sweep_file = next((n for n in SWEEP_FILES if find(run_dir, n) is not None), None)
    loaders: list[tuple[str, Callable[[Path, Builder], Section | None]]] = [
        (GRADNORMS_FILE, _gradnorms),
        (DELTAS_FILE, _deltas),
        (PROBES_FILE, _probes),
        (ATTENTION_FILE, _attention),
        (ABLATION_FILE, _ablation),
        *([(sweep_file, sweep_section)] if sweep_file else []),
    ]
    for name, fn in loaders:
        path = find(run_dir, name)
        if path is not None:
            steps.append((name, lambda fn=fn, path=path: fn(path, b)))
    if (run_dir / SWEEP_FILES[0]).is_file() or (run_dir / RUNS_DIR).is_dir():
        steps.append(("per-query deltas", lambda: per_query_section(run_dir, b, qrels)))
    try:
        overview = _overview(run_dir)
    except Exception as e:  # a damaged summary.json, soup.json or spec.yaml costs the overview only
        log.warning("report overview failed: %s", e)
        errors["run"], overview = f"{type(e).__name__}: {e}", None
    for name, make in steps:
        try:
            sec = make()
        except Exception as e:  # a broken file costs its section, not the report
            log.warning("report section %s failed: %s", name, e)
            errors[name] = f"{type(e).__name__}: {e}"
            continue
        if sec is not None:
            sections.append(sec)
    if not sections and not overview and not errors:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise InputError(
            "nothing to report: not a training, soup, sweep or inspection folder (no spec.yaml, "
            "training logs, sweep results or inspection files)",
            run_dir,
        )
    page = render(run_dir, ([overview] if overview else []) + sections, errors)
    report = out / REPORT_FILE
    with atomic_file(report) as tmp:  # a kill leaves the old page or the new one
        tmp.write_text(page)
    summary = {
        "run_dir": str(run_dir.resolve()),
        "sections": [s.key for s in sections],
        "findings": {s.key: s.findings for s in sections},
        "numbers": {s.key: s.numbers for s in sections},
        "figures": b.pngs,
        "errors": errors,
    }
    before = _figures_written(out)
    with atomic_file(out / SUMMARY_FILE) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
    for name in set(before) - set(b.pngs):  # an earlier report's figure of a section this one lacks
        (out / Path(name).name).unlink(missing_ok=True)
    return report


def _figures_written(out: Path) -> list[str]:
    """The PNGs an earlier report wrote into `out`, from its summary.json (none when unreadable)."""
    try:
        figures = json.loads((out / SUMMARY_FILE).read_text()).get("figures", [])
    except (OSError, ValueError, AttributeError):
        return []
    if not isinstance(figures, list):
        return []
    return [f for f in figures if isinstance(f, str) and f.endswith(".png")]


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(type(x).__name__)


def render(run_dir: Path, sections: list[Section], errors: dict[str, str]) -> str:
    title = f"rankscope report: {run_dir.resolve().name}"
    when = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    nav = "".join(f"<a href='#{s.key}'>{html.escape(s.title)}</a>" for s in sections)
    found = "".join(
        f"<li><b>{html.escape(s.title)}:</b> {html.escape(' '.join(s.findings))}</li>"
        for s in sections
        if s.findings
    )
    body = [
        f"<h1>{html.escape(title)}</h1><p class='meta'>{html.escape(str(run_dir.resolve()))} · {when}</p>",
        f"<nav>{nav}</nav>",
    ]
    if found:
        body.append(f"<h2 id='summary'>Summary of findings</h2><ul class='findings'>{found}</ul>")
    if not sections:
        body.append("<p>This folder holds nothing to report on yet.</p>")
    for s in sections:
        body.append(f"<h2 id='{s.key}'>{html.escape(s.title)}</h2>")
        if s.findings:
            items = "".join(f"<li>{html.escape(x)}</li>" for x in s.findings)
            body.append(f"<ul class='findings'>{items}</ul>")
        body.extend(s.parts)
    for name, err in errors.items():
        body.append(f"<p class='note'>Could not read {html.escape(name)}: {html.escape(err)}</p>")
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )
