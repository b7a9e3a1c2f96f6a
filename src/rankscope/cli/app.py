"""The typer app, the console and the option types shared by the command modules."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from rankscope.scorers.budget import DocsCut

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
MeasuresOpt = Annotated[
    list[str] | None, typer.Option("--measure", "--measures", "-m", help="ir-measures names (repeatable)")
]
OutOpt = Annotated[Path, typer.Option(help="output folder")]


def print_metrics(metrics: dict[str, float]) -> None:
    if not metrics:
        return
    table = Table("measure", "value")
    for k, v in metrics.items():
        table.add_row(k, f"{v:.4f}")
    console.print(table)


def rerank_timing(seconds: float, pairs: int, docs_cut: DocsCut | None) -> dict[str, object]:
    """OUT/timing.json of `rerank`, whole-file or streamed: time, pairs and the documents the budget cut."""
    timing: dict[str, object] = {
        "seconds": seconds,
        "pairs": pairs,
        "pairs_per_second": pairs / max(seconds, 1e-9),
    }
    if docs_cut:
        timing["docs_cut"] = docs_cut.as_dict()
    return timing


def print_docs_cut(docs_cut: DocsCut | None) -> None:
    """`rerank`'s notice when its document budget cut a noticeable share of the documents."""
    from rankscope.scorers.budget import cut_notice

    if notice := cut_notice(docs_cut):
        console.print(f"[yellow]{notice}[/yellow]")


def fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def metrics_table(rows: list[dict[str, object]], title: str) -> Table:
    """One row per dict (first key as the row label), numbers to 4 decimals."""
    cols = [k for k in rows[-1] if k not in ("step", "seconds")]
    table = Table("step", *cols, title=title)
    for row in rows:
        table.add_row(str(row["step"]), *[fmt(row.get(c)) for c in cols])
    return table
