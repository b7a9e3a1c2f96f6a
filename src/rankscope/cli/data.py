"""Commands over datasets: list them, and the BM25 first stage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rankscope.cli.app import (
    CorpusOpt,
    DatasetOpt,
    QrelsOpt,
    QueriesOpt,
    app,
    console,
    print_metrics,
)
from rankscope.errors import InputError


@app.command()
def datasets() -> None:
    """List the registered datasets with their sizes, candidate sets and licenses; a dataset whose files
    are missing is listed as such (with the data folder searched), not a failure of the whole list."""
    from rankscope.data.registry import DATASETS, data_root, describe

    wide = console.width >= 150  # a narrower terminal gets the licenses below the table, whole
    table = Table("name", "split", "queries", "docs", "judged", "candidates", *(["license"] if wide else []))
    for col in table.columns[:5]:  # the name is what a user copies; numbers are read whole
        col.no_wrap = True
    licenses: dict[str, list[str]] = {}
    missing: dict[str, str] = {}  # name -> why, listed below the table whole
    for name in DATASETS:
        try:
            d = describe(name)
        except InputError as e:
            missing[name] = str(e)
            table.add_row(name, "missing", "-", "-", "-", "-", *(["-"] if wide else []))
            continue
        licenses.setdefault(str(d["license"]), []).append(name)
        table.add_row(
            name,
            str(d["split"]),
            str(d["n_queries"]),
            str(d["n_docs"]),
            str(d["n_judgements"]),
            ", ".join(map(str, d["candidates"])) or "-",  # type: ignore[call-overload]
            *([str(d["license"])] if wide else []),
        )
    console.print(table)
    if not wide:
        for lic, names in licenses.items():
            console.print(f"license {lic}: {', '.join(names)}")
    for name, why in missing.items():
        console.print(f"{name} missing: {why}")
    if missing:
        console.print(
            f"{len(missing)} dataset(s) missing under {data_root()} (set RANKSCOPE_DATA to the data folder)"
        )


@app.command()
def retrieve(
    out: Annotated[Path, typer.Option(help="output folder: run.trec, candidates.jsonl.gz, metrics.json")],
    dataset: DatasetOpt = None,
    queries: QueriesOpt = None,
    qrels: QrelsOpt = None,
    corpus: CorpusOpt = None,
    k: Annotated[int, typer.Option(min=1, help="hits per query")] = 100,
    overwrite: bool = False,
) -> None:
    """BM25 first stage (bm25s) over a dataset's corpus: writes a TREC run and a candidates file."""
    from rankscope.data.readers import write_candidates, write_trec_run
    from rankscope.data.registry import dataset_folder
    from rankscope.evaluate.metrics import evaluate
    from rankscope.io import atomic_dir, write_json, write_yaml
    from rankscope.pipeline import load_inputs

    inputs = load_inputs(dataset, "bm25", queries=queries, qrels=qrels, corpus=corpus, depth=k)
    if not inputs.collection.corpus:
        raise InputError("BM25 needs a corpus: this dataset has none (give --corpus)", "--dataset")
    run = {q: {h.doc_id: h.score for h in hits} for q, hits in inputs.candidates.hits.items()}
    given = [queries, qrels, corpus, dataset_folder(dataset)]
    with atomic_dir(out, overwrite, given) as tmp:  # --overwrite never replaces an input's folder
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
    print_metrics(metrics)
    console.print(f"wrote {out}/run.trec and {out}/candidates.jsonl.gz")
