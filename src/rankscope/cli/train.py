"""Commands that train: train, export, soup, sweep, synth, pseudo-label and the demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rankscope.cli.app import (
    CorpusOpt,
    DatasetOpt,
    QueriesOpt,
    app,
    console,
    fmt,
    metrics_table,
)
from rankscope.errors import InputError


@app.command("train")
def train_cmd(
    out: Annotated[Path, typer.Option(help="run folder: spec, log, checkpoints, metrics, adapter")],
    spec: Annotated[Path | None, typer.Argument(help="experiment spec YAML (optional with --resume)")] = None,
    resume: Annotated[bool, typer.Option(help="continue the run in --out from its last checkpoint")] = False,
) -> None:
    """Fine-tune a reranker as a spec says, reranking the dev set at every checkpoint."""
    from rankscope.train.run import console_log, end_distributed, train

    if spec is None and not resume:
        raise InputError("give a SPEC file (or --resume to continue the run in --out)")
    with console_log():
        res = train(spec, out, resume=resume)
    end_distributed()  # every rank has finished: summary.json is written
    if res.metrics:
        rows = [{k: v for k, v in r.items() if k != "health"} for r in res.metrics]
        console.print(metrics_table(rows, "dev set per checkpoint"))
    if res.best is not None:
        b = res.best
        console.print(f"best checkpoint: step {b.step} ({b.measure} {b.value:.4f}) in {b.folder}")
    summary = res.out / "summary.json"
    for line in json.loads(summary.read_text()).get("health", []) if summary.is_file() else []:
        console.print(f"health: {line}", highlight=False)
    if res.stopped_at is not None:
        console.print(f"[bold red]stopped:[/] non-finite loss at step {res.stopped_at}")
    speed = f"{res.tokens_per_second:.0f} tokens/s"
    console.print(f"{res.steps} steps in {res.seconds:.0f}s ({speed}); adapter: {res.adapter}")


@app.command("export")
def export_cmd(
    run: Annotated[Path, typer.Argument(help="a training run folder")],
    out: Annotated[Path, typer.Option(help="standalone model folder to write")],
    checkpoint: Annotated[
        str | None, typer.Option(help="best (default), final, a step or a checkpoint folder")
    ] = None,
    overwrite: bool = False,
    out_format: Annotated[
        str, typer.Option("--format", help="hf (the merged folder) or gguf (also OUT/model-QUANT.gguf)")
    ] = "hf",
    quant: Annotated[str, typer.Option(help="GGUF weights: f16 or q8_0 (with --format gguf)")] = "f16",
) -> None:
    """Merge a run's LoRA adapter into its base model: a standalone Hugging Face folder, and with
    --format gguf a llama.cpp GGUF file in it, checked for score parity against the torch model."""
    from rankscope.train.export import export

    if out_format == "hf":
        console.print(f"wrote {export(run, out, overwrite, checkpoint=checkpoint)}")
        return
    if out_format != "gguf":
        raise InputError(f"unknown format '{out_format}': expected hf or gguf", "--format")
    from rankscope.export_gguf import export_run_gguf, gguf_name

    path, p = export_run_gguf(run, out, quant, overwrite, checkpoint=checkpoint)
    console.print(
        f"GGUF parity ({p['scorer']}, {p['pairs']} pairs): max |diff| {p['max_abs_diff']:.2e} "
        f"(allowed {p['tolerance']['max_abs_diff']}), Spearman {p['spearman']:.4f} "
        f"(needed {p['tolerance']['spearman']})",
        highlight=False,
    )
    console.print(f"wrote {path} and {path / gguf_name(quant)}")


@app.command("soup")
def soup_cmd(
    sources: Annotated[
        list[Path], typer.Argument(help="run folders (their best checkpoint) or checkpoint folders in runs")
    ],
    out: Annotated[Path, typer.Option(help="the soup's run folder (loads with rerank --run)")],
    weight: Annotated[
        list[float] | None, typer.Option(help="one weight per ingredient, in order (default: equal)")
    ] = None,
    overwrite: bool = False,
) -> None:
    """Average the trained weights of several fine-tunes of one model (seeds of a recipe, checkpoints of
    a run) into one reranker: a model soup (LoRA adapters: the exact mean of their updates)."""
    from rankscope.train.card import current_command
    from rankscope.train.soup import SOUP_FILE, soup

    folder = soup(
        sources, out, weights=weight or None, overwrite=overwrite, command=current_command() or None
    )
    recipe = json.loads((folder / SOUP_FILE).read_text())
    for part in recipe["ingredients"]:
        console.print(f"  {part['weight']:g} x {part['checkpoint']}", highlight=False)
    how = "averaged" if recipe["lora_rank"] is None else f"stacked: LoRA rank {recipe['lora_rank']}"
    console.print(f"wrote {folder} ({recipe['tensors']} tensors {how})")


@app.command("sweep")
def sweep_cmd(
    spec: Annotated[
        Path, typer.Argument(help="sweep spec YAML: an experiment spec plus grid: {field.path: [values]}")
    ],
    out: Annotated[Path, typer.Option(help="sweep folder: runs/NAME, results.jsonl, comparison.png")],
    resume: Annotated[bool, typer.Option(help="skip finished runs, resume an interrupted one")] = False,
    only: Annotated[
        str | None, typer.Option(help="I/N: run only grid points with index % N == I (one process per GPU)")
    ] = None,
) -> None:
    """Train a grid of runs one after another into one results table and one comparison figure."""
    from rankscope.sweep import GridPoint, parse_only, run_sweep
    from rankscope.train.run import console_log

    share = parse_only(only)

    def announce(point: GridPoint, what: str) -> None:
        console.print(f"[bold]{point.name}[/] ({point.index + 1}): {what}", highlight=False)

    with console_log():
        res = run_sweep(spec, out, resume=resume, only=share, on_point=announce)
    if res.rows:
        cols = [k for k in res.rows[0] if k not in ("name", "run")]
        table = Table("name", *cols, title=f"sweep results ({res.out})")
        for row in res.rows:
            table.add_row(str(row.get("name")), *[fmt(row.get(c)) for c in cols])
        console.print(table)
    console.print(
        f"ran {len(res.ran)}, skipped {len(res.skipped)} finished; "
        + (f"comparison of {res.metric}: {res.figure}" if res.figure else "no comparison figure yet")
    )


@app.command("synth")
def synth_cmd(
    out: Annotated[
        Path, typer.Option(help="training file to write (.jsonl[.gz]); stats go to NAME.synth.json")
    ],
    model: Annotated[str, typer.Option(help="causal LM that writes and filters: smollm2-135m, ...")],
    passages: Annotated[int, typer.Option(help="passages sampled to generate from")],
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="a registered dataset with a corpus")
    ] = None,
    corpus: CorpusOpt = None,
    negatives: Annotated[int, typer.Option(help="BM25 negatives per query (filter and output)")] = 15,
    filter_scorer: Annotated[str, typer.Option(help="zero-shot filter: query-likelihood or yes-no")] = (
        "query-likelihood"
    ),
    keep_top: Annotated[int, typer.Option(min=1, help="keep a query when its source ranks within this")] = 1,
    eval_sets: Annotated[
        str, typer.Option(help="comma-separated evaluation sets whose judged passages are never used")
    ] = "dl19,scifact-test",
    seed: int = 0,
    temperature: Annotated[float, typer.Option(help="0 is greedy; above 0 samples with --seed")] = 0.0,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="generation budget per query")] = 32,
    batch_size: Annotated[int, typer.Option(min=1, help="prompts generated together")] = 8,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto, float32, bfloat16")] = "auto",
    overwrite: bool = False,
) -> None:
    """Synthetic training queries: an LLM writes a query per sampled passage, a zero-shot scorer keeps it
    when the passage ranks first among BM25 negatives (InPars / Promptagator)."""
    from rankscope.synth import run_synth, stats_path

    res = run_synth(
        out,
        model,
        dataset=dataset,
        corpus=corpus,
        passages=passages,
        negatives=negatives,
        filter_scorer=filter_scorer,
        keep_top=keep_top,
        seed=seed,
        device=device,
        dtype=dtype,
        eval_sets=eval_sets,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        temperature=temperature,
        overwrite=overwrite,
    )
    s = res.stats
    console.print(
        f"kept {s['kept']} of {s['generated']} generated queries (keep rate {s['keep_rate']:.2f}; "
        f"{s['passages_excluded_as_judged']} evaluation-judged passages excluded) in "
        f"{s['seconds']['total']:.0f}s; wrote {out} and {stats_path(out)}"  # type: ignore[index]
    )


@app.command("pseudo-label")
def pseudo_label_cmd(
    out: Annotated[
        Path, typer.Option(help="training file to write (.jsonl[.gz]); stats go to NAME.pseudo.json")
    ],
    teacher: Annotated[Path, typer.Option(help="the teacher's TREC run over the candidates")],
    dataset: DatasetOpt = None,
    queries: QueriesOpt = None,
    candidates: Annotated[
        str, typer.Option(help="the dataset's named candidates or a candidates file (with text)")
    ] = "bm25",
    positives: Annotated[int, typer.Option(min=1, help="the teacher's top documents taken as positives")] = 1,
    gap: Annotated[int, typer.Option(min=0, help="ranks skipped below the positives (likely relevant)")] = 4,
    depth: Annotated[int, typer.Option(min=1, help="the deepest teacher rank taken as a negative")] = 30,
    eval_sets: Annotated[
        str, typer.Option(help="comma-separated evaluation sets whose queries are refused ('' for none)")
    ] = "dl19,scifact-test",
    overwrite: bool = False,
) -> None:
    """Training data from unlabelled queries: a teacher run's top documents as positives, the documents it
    ranks below a gap as hard negatives (a FlagEmbedding jsonl for train.files)."""
    from rankscope.data.pseudo import run_pseudo_label, stats_path

    res = run_pseudo_label(
        out,
        teacher,
        dataset=dataset,
        candidates=candidates,
        queries=queries,
        positives=positives,
        gap=gap,
        depth=depth,
        eval_sets=eval_sets,
        overwrite=overwrite,
    )
    s = res.stats
    console.print(
        f"{s['queries']} queries labelled ({s['groups']} positives; "
        f"{s['queries_not_ranked_by_teacher']} not ranked by the teacher, "
        f"{s['queries_too_shallow']} ranked too shallow; {s['duplicate_passages_dropped']} repeated "
        f"passages counted once); wrote {out} and {stats_path(out)}"
    )


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="output folder (a previous demo's output is replaced)")] = Path(
        "runs/demo"
    ),
    steps: Annotated[
        int | None, typer.Option(min=1, help="training steps (default: the demo spec's 10)")
    ] = None,
    inspect: Annotated[bool, typer.Option(help="run the inspection analyses before the report")] = True,
) -> None:
    """Fine-tune SmolLM2-135M with LoRA, compare before/after on a DL19 subset, inspect and report."""
    from rankscope.demo import run_demo

    run_demo(out, steps=steps, inspect=inspect)
