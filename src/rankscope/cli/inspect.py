"""Commands that look inside a trained run: inspect and report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rankscope.cli.app import (
    app,
    console,
)
from rankscope.errors import InputError


def _preset_names(value: str) -> list[str] | None:
    """--presets: "all" -> None (every preset), "none" -> [], else the comma-separated names."""
    value = value.strip()
    if value == "all":
        return None
    if value == "none":
        return []
    return [n.strip() for n in value.split(",") if n.strip()]


def _int_list(text: str | None, option: str) -> list[int] | None:
    """'auto' -> None, 'none'/'0' -> [], '4,8' -> [4, 8]."""
    if text is None or text.strip().lower() == "auto":
        return None
    if text.strip().lower() in ("none", "0", ""):
        return []
    try:
        return [int(t) for t in text.replace(" ", "").split(",")]
    except ValueError:
        raise InputError(f"expected auto, none or comma-separated sizes, got '{text}'", option) from None


@app.command("inspect")
def inspect_cmd(
    run: Annotated[Path, typer.Argument(help="a trained run folder (rankscope train --out)")],
    probes: Annotated[bool, typer.Option(help="linear probes per layer, base vs fine-tuned")] = True,
    attention: Annotated[bool, typer.Option(help="query/document attention mass, before vs after")] = True,
    ablation: Annotated[
        bool,
        typer.Option(
            help="switch adapters (or full-weight updates) off by preset and layer window, rerank the dev set"
        ),
    ] = True,
    windows: Annotated[
        str, typer.Option(help="layer-window sizes of the ablation sweep: auto (~1/6 of layers), 4,8, none")
    ] = "auto",
    stride: Annotated[
        int | None,
        typer.Option(
            min=1, help="window start step (default half the window); the last window ends at the last layer"
        ),
    ] = None,
    presets: Annotated[
        str,
        typer.Option(
            help="preset ablations: all, none, or names joined by commas (attention-only,mlp-only,q-only,...)"
        ),
    ] = "all",
    max_queries: Annotated[
        int | None,
        typer.Option(min=1, help="dev queries reranked and probed (default the spec's dev.max_queries)"),
    ] = None,
    layers: Annotated[
        str | None, typer.Option(help="probe layers drawn as PCA plots (0 = embeddings), e.g. 5,15,30")
    ] = None,
    probe_pairs: Annotated[int, typer.Option(min=1, help="labelled pairs per class for the probes")] = 200,
    attention_pairs: Annotated[int, typer.Option(min=1, help="pairs averaged in the attention pass")] = 64,
    checkpoint: Annotated[
        str | None, typer.Option(help="best (default), final, a step or a checkpoint folder")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N")] = "auto",
    dtype: Annotated[
        str, typer.Option(help="auto (as training evaluated its dev set), float32, bfloat16 (no autocast)")
    ] = "auto",
) -> None:
    """Analyse a trained run: weight deltas per checkpoint, probes, attention and adapter ablations on its
    dev set, written into RUN/inspect/ (then `rankscope report RUN`)."""
    from rankscope.inspect.run import InspectOptions, check_run, inspect_run
    from rankscope.progress import stage_bars

    check_run(run)
    opts = InspectOptions(
        probes=probes,
        attention=attention,
        ablation=ablation,
        windows=_int_list(windows, "--windows"),
        stride=stride,
        presets=_preset_names(presets),
        max_queries=max_queries,
        pca_layers=layers,
        probe_pairs=probe_pairs,
        attention_pairs=attention_pairs,
        checkpoint=checkpoint,
        device=device,
        dtype=dtype,
    )
    with stage_bars() as progress:
        res = inspect_run(run, opts, progress)
    for name in res.written:
        console.print(f"wrote {res.out / name}")
    for name, why in res.skipped.items():
        console.print(f"[yellow]skipped {name}:[/] {why}", highlight=False)
    console.print(f"next: rankscope report {run}")


@app.command("report")
def report_cmd(
    run: Annotated[Path, typer.Argument(help="a training run folder or a sweep folder")],
    out: Annotated[Path | None, typer.Option(help="report folder (default DIR/report)")] = None,
    qrels: Annotated[
        Path | None, typer.Option(help="sweep: qrels for per-query deltas of runs that wrote run files")
    ] = None,
) -> None:
    """One self-contained HTML page (figures, tables, findings), its PNGs and summary.json, for a run or a
    sweep; prints the page's path."""
    from rankscope.report import write_report

    typer.echo(str(write_report(run, out, qrels=qrels)))  # plain: rich would wrap a long path
