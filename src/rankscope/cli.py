"""The `rankscope` command line: parses options and dispatches; the work lives in the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rankscope.errors import InputError

app = typer.Typer(
    help="Fine-tune LLM passage rerankers with PEFT and see where relevance is learned.",
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

DatasetOpt = Annotated[str | None, typer.Option("--dataset", "-d", help="a registered dataset name")]
CandOpt = Annotated[
    str | None, typer.Option(help="candidate set name (bm25, splade-pp, ...) or a jsonl(.gz) file")
]
QueriesOpt = Annotated[str | None, typer.Option(help="queries file (.tsv or BEIR .jsonl)")]
QrelsOpt = Annotated[str | None, typer.Option(help="qrels file (TREC or BEIR .tsv)")]
CorpusOpt = Annotated[str | None, typer.Option(help="corpus file (BEIR .jsonl[.gz] or MS MARCO .tsv)")]


@app.command()
def datasets() -> None:
    """List the registered datasets with their sizes and licenses."""
    from rankscope.data.registry import DATASETS, describe

    table = Table("name", "split", "queries", "documents", "judgements", "license")
    for name in DATASETS:
        d = describe(name)
        table.add_row(
            name,
            str(d["split"]),
            str(d["n_queries"]),
            str(d["n_docs"]),
            str(d["n_judgements"]),
            str(d["license"]),
        )
    console.print(table)


@app.command()
def retrieve(
    out: Annotated[Path, typer.Option(help="output folder: run.trec, candidates.jsonl.gz, metrics.json")],
    dataset: DatasetOpt = None,
    queries: QueriesOpt = None,
    qrels: QrelsOpt = None,
    corpus: CorpusOpt = None,
    k: Annotated[int, typer.Option(help="hits per query")] = 100,
    overwrite: bool = False,
) -> None:
    """BM25 first stage (bm25s) over a dataset's corpus: writes a TREC run and a candidates file."""
    from rankscope.data.readers import write_candidates, write_trec_run
    from rankscope.evaluate.metrics import evaluate
    from rankscope.io import atomic_dir, write_json, write_yaml
    from rankscope.pipeline import load_inputs

    inputs = load_inputs(dataset, "bm25", queries=queries, qrels=qrels, corpus=corpus, depth=k)
    if not inputs.collection.corpus:
        raise InputError("BM25 needs a corpus: this dataset has none (give --corpus)", "--dataset")
    run = {q: {h.doc_id: h.score for h in hits} for q, hits in inputs.candidates.hits.items()}
    with atomic_dir(out, overwrite) as tmp:
        write_trec_run(run, tmp / "run.trec", tag="bm25")
        write_candidates(inputs.candidates, tmp / "candidates.jsonl.gz")
        metrics = evaluate(run, inputs.collection.qrels) if inputs.collection.qrels else {}
        write_json(tmp / "metrics.json", metrics)
        write_yaml(
            tmp / "config.yaml",
            {
                "command": "retrieve",
                "dataset": dataset,
                "queries": queries,
                "qrels": qrels,
                "corpus": corpus,
                "k": k,
            },
        )
    _print_metrics(metrics)
    console.print(f"wrote {out}/run.trec and {out}/candidates.jsonl.gz")


@app.command()
def rerank(
    out: Annotated[Path, typer.Option(help="output folder: run.trec, metrics.json, config.yaml")],
    model: Annotated[
        str | None, typer.Option(help="smollm2-135m, gemma3-270m, minilm-l6, a HF folder or .gguf")
    ] = None,
    scorer: Annotated[
        str | None, typer.Option(help="yes-no, query-likelihood, pairwise, bi-encoder, cross-encoder")
    ] = None,
    run: Annotated[
        Path | None, typer.Option(help="a trained run folder: its model, scorer and adapter/ score")
    ] = None,
    adapter: Annotated[
        Path | None, typer.Option(help="with --run: a checkpoint folder instead of RUN/adapter")
    ] = None,
    dataset: DatasetOpt = None,
    candidates: CandOpt = "bm25",
    queries: QueriesOpt = None,
    qrels: QrelsOpt = None,
    corpus: CorpusOpt = None,
    depth: Annotated[int, typer.Option(help="candidates reranked per query")] = 100,
    pairwise_top: Annotated[int, typer.Option(help="top-k compared pairwise (pairwise scorer)")] = 20,
    max_queries: Annotated[int | None, typer.Option(help="rerank only the first N queries")] = None,
    measures: Annotated[list[str] | None, typer.Option("--measure", help="ir-measures names")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N")] = "auto",
    dtype: Annotated[
        str, typer.Option(help="auto (bf16 on CUDA and bf16-capable CPUs), float32, bfloat16")
    ] = "auto",
    overwrite: bool = False,
) -> None:
    """Rerank candidates with a (zero-shot or fine-tuned) scorer and evaluate the run."""
    from rankscope.data.readers import write_trec_run
    from rankscope.io import atomic_dir, write_json, write_yaml
    from rankscope.pipeline import load_inputs, run_rerank
    from rankscope.scorers.registry import check_scorer

    if run is None:
        if not model or not scorer:
            raise InputError("give --model and --scorer, or --run with a trained run folder", "--run")
        check_scorer(scorer)
    elif model or scorer:
        raise InputError("--run brings its own model and scorer: drop --model/--scorer", "--run")
    elif adapter is not None and not adapter.is_dir():
        raise InputError("no such checkpoint folder", adapter)
    config = {
        "command": "rerank",
        "model": model,
        "scorer": scorer,
        "run": str(run) if run else None,
        "adapter": str(adapter) if adapter else None,
        "dataset": dataset,
        "candidates": candidates,
        "queries": queries,
        "qrels": qrels,
        "corpus": corpus,
        "depth": depth,
        "pairwise_top": pairwise_top,
        "max_queries": max_queries,
        "measures": measures,
        "device": device,
        "dtype": dtype,
    }
    with atomic_dir(out, overwrite) as tmp:
        inputs = load_inputs(
            dataset,
            candidates,
            queries=queries,
            qrels=qrels,
            corpus=corpus,
            depth=depth,
            max_queries=max_queries,
        )
        res = run_rerank(
            inputs,
            model,
            scorer,
            run_dir=run,
            adapter=adapter,
            depth=depth,
            pairwise_top=pairwise_top,
            device=device,
            dtype=dtype,
            measures=measures,
        )
        write_trec_run(res.run, tmp / "run.trec", tag=f"rankscope-{scorer or 'run'}")
        write_json(tmp / "metrics.json", res.metrics)
        write_yaml(tmp / "config.yaml", config)
        write_json(
            tmp / "timing.json",
            {
                "seconds": res.seconds,
                "pairs": res.pairs,
                "pairs_per_second": res.pairs / max(res.seconds, 1e-9),
            },
        )
    _print_metrics(res.metrics)
    console.print(
        f"{res.pairs} pairs in {res.seconds:.1f}s ({res.pairs / max(res.seconds, 1e-9):.1f} pairs/s); "
        f"wrote {out}"
    )


@app.command("evaluate")
def evaluate_cmd(
    qrels: Annotated[Path, typer.Option(help="qrels file (TREC or BEIR .tsv)")],
    run: Annotated[Path | None, typer.Option(help="TREC run file")] = None,
    candidates: Annotated[
        Path | None, typer.Option(help="or a candidates jsonl(.gz) file, ranked by its scores")
    ] = None,
    measures: Annotated[list[str] | None, typer.Option("--measure", help="ir-measures names")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Evaluate a TREC run (or a candidates file) against qrels (default nDCG@10, RR@10, R@100)."""
    from rankscope.data.readers import read_candidates, read_trec_run
    from rankscope.data.registry import read_qrels_file
    from rankscope.evaluate.metrics import evaluate

    if (run is None) == (candidates is None):
        raise InputError("give exactly one of --run and --candidates", "--run")
    if run is not None:
        ranking = read_trec_run(run)
    else:
        cands = read_candidates(candidates)
        ranking = {q: {h.doc_id: h.score for h in hits} for q, hits in cands.hits.items()}
    metrics = evaluate(ranking, read_qrels_file(qrels), measures)
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
    else:
        _print_metrics(metrics)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="output folder (a previous demo's output is replaced)")] = Path(
        "runs/demo"
    ),
    steps: Annotated[int | None, typer.Option(help="training steps (default: the demo spec's 40)")] = None,
    inspect: Annotated[bool, typer.Option(help="run the inspection analyses before the report")] = True,
) -> None:
    """Fine-tune SmolLM2-135M with LoRA, compare before/after on a DL19 subset, inspect and report."""
    from rankscope.demo import run_demo

    run_demo(out, steps=steps, inspect=inspect)


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
        bool, typer.Option(help="switch adapters off (presets + layer windows), rerank the dev set")
    ] = True,
    windows: Annotated[
        str, typer.Option(help="layer-window sizes of the ablation sweep: auto (~1/6 of layers), 4,8, none")
    ] = "auto",
    stride: Annotated[int | None, typer.Option(help="window start step (default half the window)")] = None,
    max_queries: Annotated[
        int | None, typer.Option(help="dev queries reranked and probed (default the spec's dev.max_queries)")
    ] = None,
    layers: Annotated[
        str | None, typer.Option(help="probe layers drawn as PCA plots (0 = embeddings), e.g. 5,15,30")
    ] = None,
    probe_pairs: Annotated[int, typer.Option(help="labelled pairs per class for the probes")] = 200,
    attention_pairs: Annotated[int, typer.Option(help="pairs averaged in the attention pass")] = 64,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N")] = "auto",
    dtype: Annotated[
        str, typer.Option(help="auto (as training evaluated its dev set), float32, bfloat16 (no autocast)")
    ] = "auto",
) -> None:
    """Analyse a trained run: weight deltas per checkpoint, probes, attention and adapter ablations on its
    dev set, written into RUN/inspect/ (then `rankscope report RUN`)."""
    from rankscope.inspect.run import InspectOptions, check_run, inspect_run, stage_bars

    check_run(run)
    opts = InspectOptions(
        probes=probes,
        attention=attention,
        ablation=ablation,
        windows=_int_list(windows, "--windows"),
        stride=stride,
        max_queries=max_queries,
        pca_layers=layers,
        probe_pairs=probe_pairs,
        attention_pairs=attention_pairs,
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
) -> None:
    """One self-contained HTML page (figures, tables, findings), its PNGs and summary.json, for a run or a
    sweep; prints the page's path."""
    from rankscope.report import write_report

    typer.echo(str(write_report(run, out)))  # plain: rich would wrap a long path


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
            table.add_row(str(row.get("name")), *[_fmt(row.get(c)) for c in cols])
        console.print(table)
    console.print(
        f"ran {len(res.ran)}, skipped {len(res.skipped)} finished; "
        + (f"comparison of {res.metric}: {res.figure}" if res.figure else "no comparison figure yet")
    )


def _print_metrics(metrics: dict[str, float]) -> None:
    if not metrics:
        return
    table = Table("measure", "value")
    for k, v in metrics.items():
        table.add_row(k, f"{v:.4f}")
    console.print(table)


def main() -> None:
    """Entry point: bad input prints one line and exits with code 2."""
    try:
        app()
    except InputError as e:
        Console(stderr=True).print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)


@app.command("train")
def train_cmd(
    out: Annotated[Path, typer.Option(help="run folder: spec, log, checkpoints, metrics, adapter")],
    spec: Annotated[Path | None, typer.Argument(help="experiment spec YAML (optional with --resume)")] = None,
    resume: Annotated[bool, typer.Option(help="continue the run in --out from its last checkpoint")] = False,
) -> None:
    """Fine-tune a reranker as a spec says, reranking the dev set at every checkpoint."""
    from rankscope.train.run import console_log, train

    if spec is None and not resume:
        raise InputError("give a SPEC file (or --resume to continue the run in --out)")
    with console_log():
        res = train(spec, out, resume=resume)
    if res.metrics:
        cols = [k for k in res.metrics[-1] if k not in ("step", "seconds")]
        table = Table("step", *cols, title="dev set per checkpoint")
        for row in res.metrics:
            table.add_row(str(row["step"]), *[_fmt(row.get(c)) for c in cols])
        console.print(table)
    if res.stopped_at is not None:
        console.print(f"[bold red]stopped:[/] non-finite loss at step {res.stopped_at}")
    speed = f"{res.tokens_per_second:.0f} tokens/s"
    console.print(f"{res.steps} steps in {res.seconds:.0f}s ({speed}); adapter: {res.adapter}")


@app.command("export")
def export_cmd(
    run: Annotated[Path, typer.Argument(help="a training run folder")],
    out: Annotated[Path, typer.Option(help="standalone model folder to write")],
    overwrite: bool = False,
) -> None:
    """Merge a run's LoRA adapter into its base model: a standalone Hugging Face folder."""
    from rankscope.train.export import export

    console.print(f"wrote {export(run, out, overwrite)}")


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


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
    keep_top: Annotated[int, typer.Option(help="keep a query when its source ranks within this")] = 1,
    eval_sets: Annotated[
        str, typer.Option(help="comma-separated evaluation sets whose judged passages are never used")
    ] = "dl19,scifact-test",
    seed: int = 0,
    temperature: Annotated[float, typer.Option(help="0 is greedy; above 0 samples with --seed")] = 0.0,
    max_new_tokens: Annotated[int, typer.Option(help="generation budget per query")] = 32,
    batch_size: Annotated[int, typer.Option(help="prompts generated together")] = 8,
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
