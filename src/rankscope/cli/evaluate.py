"""Commands that score runs: evaluate against qrels, compare runs with paired tests."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rankscope.cli.app import (
    MeasuresOpt,
    app,
    console,
    fmt,
    print_metrics,
)
from rankscope.errors import InputError


@app.command("evaluate")
def evaluate_cmd(
    qrels: Annotated[Path, typer.Option(help="qrels file (TREC or BEIR .tsv)")],
    run: Annotated[Path | None, typer.Option(help="TREC run file")] = None,
    candidates: Annotated[
        Path | None, typer.Option(help="or a candidates jsonl(.gz) file, ranked by its scores")
    ] = None,
    measures: MeasuresOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Evaluate a TREC run (or a candidates file) against qrels (default nDCG@10, RR@10, R@100; RR and R
    at rel >= 2 on graded qrels, as TREC DL)."""
    from rankscope.evaluate import evaluate_run

    if (run is None) == (candidates is None):
        raise InputError("give exactly one of --run and --candidates", "--run")
    given = run if run is not None else candidates
    assert given is not None
    metrics = evaluate_run(given, qrels, measures, candidates=candidates is not None)
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
    else:
        print_metrics(metrics)


def run_group(arg: Path) -> Path | list[Path]:
    """A run argument: one file, or files joined by commas (a file whose own name holds a comma wins).
    A missing file is reported by the run reader, naming it."""
    if arg.exists() or "," not in str(arg):
        return arg
    parts = str(arg).split(",")
    if not all(parts):
        raise InputError(f"an empty file name in the group '{arg}'", "RUNS")
    return [Path(p) for p in parts]


@app.command("compare")
def compare_cmd(
    runs: Annotated[
        list[Path],
        typer.Argument(
            help="TREC run files (or candidates files); the first is the baseline (with --pairs, each run is "
            "compared with each earlier one). Files joined by commas (seeds) count as one run: each query's "
            "value is their mean"
        ),
    ],
    qrels: Annotated[Path, typer.Option(help="qrels file (TREC or BEIR .tsv)")],
    measures: MeasuresOpt = None,
    names: Annotated[list[str] | None, typer.Option("--name", help="a name per run (repeatable)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    bootstrap: Annotated[int, typer.Option(min=1, help="bootstrap resamples for the 95% CI")] = 10000,
    seed: int = 0,
    power: Annotated[
        bool,
        typer.Option(
            "--power",
            help="also the test's sensitivity: the smallest delta these queries can show, and the queries "
            "needed to show the observed one (80% power)",
        ),
    ] = False,
    pairs: Annotated[
        bool,
        typer.Option(
            "--pairs",
            help="compare every pair of runs (each run with each earlier one), Holm over all the pairs",
        ),
    ] = False,
) -> None:
    """Compare runs with the first over queries: means, delta, paired t-test p-value, bootstrap 95% CI,
    wins/ties/losses, and Holm-corrected p-values with more than two runs (--pairs: every pair)."""
    from rankscope.evaluate.compare import compare, format_table
    from rankscope.evaluate.power import format_power, power_table

    if len(runs) < 2:
        raise InputError("give at least two runs: a baseline and a run to compare with it", "RUNS")
    if names and len(names) != len(runs):
        raise InputError(f"{len(names)} --name for {len(runs)} runs: give one per run, or none", "--name")
    if names and len(set(names)) != len(names):
        raise InputError(f"run names must differ: {list(names)}", "--name")
    groups = [run_group(r) for r in runs]
    result = compare(
        groups, qrels, measures or None, names=names or None, n_boot=bootstrap, seed=seed, pairs=pairs
    )
    rows = power_table(result) if power else []
    if as_json:
        out = result.to_json()
        for c, r in zip(out["comparisons"], rows, strict=False):
            c.update({k: r.to_json()[k] for k in ("sd_delta", "min_detectable", "queries_needed")})
        typer.echo(json.dumps(out, indent=2))
    else:
        typer.echo(format_table(result))
        if rows:
            typer.echo(format_power(rows))


@app.command("fuse")
def fuse_cmd(
    reranked: Annotated[Path, typer.Option(help="the reranker's run on a DEV set (TREC run file)")],
    first_stage: Annotated[
        Path, typer.Option(help="the first stage's run or candidates on the same dev set")
    ],
    out: Annotated[
        Path,
        typer.Option(help="fusion.json to write (for rerank --fuse-weight); with --weight, run.trec"),
    ],
    qrels: Annotated[Path | None, typer.Option(help="the dev set's qrels (to choose the weight)")] = None,
    weight: Annotated[
        str | None,
        typer.Option(
            help="apply a weight and write the fused run: a number (with --method, --norm) or a fusion.json "
            "(its recorded method and norm)"
        ),
    ] = None,
    method: Annotated[str | None, typer.Option(help="interpolate (the default) or rrf")] = None,
    norm: Annotated[
        str | None,
        typer.Option(
            help="minmax (the default, or what --weight's fusion.json records) or zscore (interpolate)"
        ),
    ] = None,
    measure: Annotated[str, typer.Option(help="the measure the weight is chosen by")] = "nDCG@10",
    depth: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="fuse each query's top N first-stage documents (rerank --fuse --depth N fuses its top N); "
            "default all, or what --weight's fusion.json records",
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing --out file")] = False,
) -> None:
    """Choose the fusion weight of reranker and first-stage scores on a dev set (--qrels), and record the
    choice; or, with --weight, fuse two existing runs (e.g. on a test set) into a TREC run file."""
    from rankscope.evaluate.fusion import check_settings, choose_weight
    from rankscope.io import atomic_file

    check_settings(method, norm, "--method", "--norm")
    _check_out(out, overwrite, [reranked, first_stage, qrels])
    if weight is not None and out.name.endswith((".jsonl", ".jsonl.gz")):  # compare would read it as one
        raise InputError("the fused run is a TREC run file, not a candidates .jsonl: give another name", out)
    if weight is None and out.name.endswith(".gz"):
        raise InputError("fusion.json is written as plain JSON: give a name without .gz", out)
    if weight is not None:
        _apply_fusion(reranked, first_stage, weight, out, method, norm, depth)
        return
    if qrels is None:
        raise InputError("give --qrels (choose the weight on a dev set) or --weight (apply one)", "--qrels")
    method, norm = method or "interpolate", norm or "minmax"
    choice = choose_weight(reranked, first_stage, qrels, measure, method=method, norm=norm, depth=depth)  # type: ignore[arg-type]
    record = {
        **choice.to_json(),
        "method": method,
        "norm": norm,
        "dev": {"reranked": str(reranked), "first_stage": str(first_stage), "qrels": str(qrels)},
    }
    with atomic_file(out) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    table = Table("weight", measure, title=f"fusion weight on the dev set ({_settings(method, norm)})")
    for point in choice.table:
        table.add_row(f"{point.weight:.2f}", fmt(point.value))
    console.print(table)
    console.print(f"chosen weight {choice.weight:.2f} ({measure} {choice.value:.4f}); wrote {out}")


def _check_out(out: Path, overwrite: bool, inputs: list[Path | None]) -> None:
    """--out is a file: never one of the inputs, never a folder, replaced only with --overwrite."""
    if any(p is not None and p.exists() and out.exists() and out.samefile(p) for p in inputs):
        raise InputError("--out is one of the inputs: give another file", out)
    if out.is_dir():
        raise InputError("is a folder: --out names the file to write", out)
    if out.exists() and not overwrite:
        raise InputError("exists (pass --overwrite to replace it)", out)


def _settings(method: str, norm: str) -> str:
    """How a fusion is described: normalisation matters to interpolation only."""
    return "rrf, k=60" if method == "rrf" else f"{method}, {norm}"


def _apply_fusion(
    reranked: Path,
    first_stage: Path,
    value: str,
    out: Path,
    method: str | None,
    norm: str | None,
    depth: int | None,
) -> None:
    """Fuse two runs with a given weight: a number uses --method, --norm and --depth, a fusion.json its
    own (an option given against it is refused, as `rerank --fuse` refuses it)."""
    from rankscope.cli.rerank import check_choice, fusion_weight
    from rankscope.data.readers import write_trec_run
    from rankscope.evaluate.compare import load_run
    from rankscope.evaluate.fusion import check_settings, depth_note, fuse, top_of

    w, choice = fusion_weight(value, "--weight")
    assert w is not None
    if choice is not None:
        recorded = str(choice.get("method", "interpolate")), str(choice.get("norm", "minmax"))
        given = method or recorded[0], norm or recorded[1]
        check_choice(choice, *given, Path(value), ("--method", "--norm"))
        check_settings(recorded[0], norm, "--method", "--norm")
        method, norm = recorded
        chosen_depth = choice.get("first_stage_depth")
        depth = depth or (chosen_depth if isinstance(chosen_depth, int) else None)  # its own cut by default
        if note := depth_note(choice, depth):
            logging.getLogger("rankscope.evaluate").warning("%s: %s", value, note)
    method, norm = method or "interpolate", norm or "minmax"
    fused = fuse(reranked, top_of(load_run(first_stage), depth), w, method=method, norm=norm)  # type: ignore[arg-type]
    write_trec_run(fused, out, tag="fused")  # atomically, and gzipped for a .gz name
    console.print(
        f"fused {len(fused)} queries ({_settings(method, norm)}, reranker weight {w:.2f}); wrote {out}"
    )
