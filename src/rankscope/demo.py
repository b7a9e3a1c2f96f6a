"""`rankscope demo`: a zero-shot rerank of a TREC DL 2019 subset, shown as a before/after table."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from rankscope.data.readers import write_trec_run
from rankscope.evaluate.metrics import evaluate
from rankscope.io import atomic_dir, write_json
from rankscope.pipeline import load_inputs, run_rerank

console = Console()


def run_demo(out: Path, n_queries: int = 8, depth: int = 30, model: str = "smollm2-135m") -> dict:
    """Rerank BM25's top `depth` for `n_queries` DL19 queries with two zero-shot scorers."""
    inputs = load_inputs("dl19", "bm25", depth=depth, max_queries=n_queries)
    qrels = inputs.collection.qrels or {}
    bm25_run = {q: {h.doc_id: h.score for h in hits} for q, hits in inputs.candidates.hits.items()}
    rows = {"BM25": (evaluate(bm25_run, qrels), 0.0, bm25_run)}
    for scorer in ("query-likelihood", "yes-no"):
        console.print(f"[bold]{model} {scorer}[/] on {n_queries} DL19 queries x {depth} BM25 candidates")
        res = run_rerank(inputs, model, scorer, depth=depth)
        rows[f"{model} {scorer}"] = (res.metrics, res.seconds, res.run)
    table = Table(title=f"TREC DL 2019, {n_queries} queries, BM25 top-{depth} (zero-shot)")
    measures = list(rows["BM25"][0])
    for col in ["ranker", *measures, "seconds"]:
        table.add_column(col)
    summary = {}
    with atomic_dir(out, overwrite=True) as tmp:
        for name, (metrics, secs, run) in rows.items():
            table.add_row(name, *[f"{metrics[m]:.4f}" for m in measures], f"{secs:.0f}")
            summary[name] = {"metrics": metrics, "seconds": secs}
            write_trec_run(run, tmp / f"{name.replace(' ', '_')}.trec")
        write_json(tmp / "summary.json", summary)
    console.print(table)
    console.print(f"runs and summary written to {out}")
    return summary
