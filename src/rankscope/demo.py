"""`rankscope demo`: fine-tune SmolLM2-135M with LoRA on bundled training data (TREC DL 2021's judged
pool and MS MARCO training samples, never DL19), rerank a DL19 subset before and after with the same
yes/no scorer, print the table and write the inspection report of the run."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from rankscope.config import spec_from_dict
from rankscope.errors import InputError
from rankscope.evaluate.metrics import evaluate
from rankscope.io import write_json
from rankscope.pipeline import load_inputs
from rankscope.runtime import return_freed_memory

console = Console()

DEMO_SPEC: dict[str, Any] = {
    "model": "smollm2-135m",
    "scorer": "yes-no",
    "objective": "listwise",
    "method": {"name": "lora", "rank": 8, "alpha": 16, "targets": ["attn", "mlp"], "layers": "all"},
    "train": {
        "datasets": ["dl21"],
        "files": ["data:msmarco-passage-train-samples/bge_msmarco_hardneg_10q.jsonl"],
        "group_size": 4,
        "positives_per_query": 2,
        "dev_fraction": 0.0,
    },
    "dev": {"dataset": "dl19", "candidates": "bm25", "depth": 10, "max_queries": 8},
    "optim": {
        "steps": 10,
        "batch_size": 2,
        "lr": 1.0e-3,
        "warmup": 1,
        "save_every": 10,
        "gradient_checkpointing": True,
    },
    "eval_sets": ["dl19"],
    "max_doc_tokens": 64,
}
"""The demo's experiment, as a spec file would hold it; DL19 is the dev set reranked at every checkpoint
(step 0 is the zero-shot "before" row) and is refused as training data. Sized for 10 minutes on a 2-core
AVX2 CPU in float32 and under 2 GB of memory (gradient checkpointing); examples/demo-full.yaml is the
larger study."""

INSPECT = {
    "max_queries": 3,
    "windows": [],
    "presets": ["attention-only", "mlp-only"],
    "probe_pairs": 12,
    "attention_pairs": 8,
    "quick": True,
}
"""The demo's inspection: deltas recorded in training, probes and attention on a few pairs, and the
attention-only / mlp-only ablations (no layer-window sweep) on the first dev queries."""

MARKER = "demo.json"


def _fresh(out: Path) -> None:
    """The demo owns `out`: a previous demo's output (its train/ run and demo.json, or the train/ run of a
    demo killed before it wrote demo.json) is replaced; a folder holding anything else is refused."""
    if out.exists() and any(out.iterdir()):
        others = [p.name for p in out.iterdir() if p.name != "train" and not p.name.startswith(".")]
        killed = not others and (out / "train" / "spec.yaml").is_file()
        if not (out / MARKER).is_file() and not killed:
            raise InputError("output folder exists and is not a previous demo's output", out)
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def run_demo(out: Path, steps: int | None = None, inspect: bool = True) -> dict[str, Any]:
    """Train, compare before/after on the DL19 subset, inspect and report; returns the summary."""
    from rankscope.report import write_report
    from rankscope.train.run import console_log, train

    return_freed_memory()
    data = {**DEMO_SPEC, "optim": {**DEMO_SPEC["optim"], **({"steps": steps} if steps else {})}}
    spec = spec_from_dict(data, "demo spec")
    _fresh(out)
    start = time.perf_counter()
    dev = spec.dev
    console.print(
        f"[bold]rankscope demo[/]: LoRA r={spec.method.rank} on {spec.model} ({spec.scorer} scorer, "
        f"{spec.objective} loss, {spec.optim.steps} steps) trained on DL21 + MS MARCO samples; "
        f"evaluated on {dev.max_queries} DL19 queries x BM25 top-{dev.depth}"
    )
    with console_log():
        result = train(spec, out / "train")
    rows = [r for r in result.metrics if "nDCG@10" in r]
    before, after = rows[0], rows[-1]
    inputs = load_inputs("dl19", "bm25", depth=dev.depth, max_queries=dev.max_queries)
    bm25_run = {q: {h.doc_id: h.score for h in hits} for q, hits in inputs.candidates.hits.items()}
    bm25 = evaluate(bm25_run, inputs.collection.qrels or {})
    measures = [m for m in bm25 if m in before]
    table = Table(title=f"TREC DL 2019, {dev.max_queries} queries, BM25 top-{dev.depth}")
    for col in ["ranker", *measures]:
        table.add_column(col)
    table.add_row("BM25", *[f"{bm25[m]:.4f}" for m in measures])
    table.add_row(f"{spec.model} {spec.scorer}, zero-shot (before)", *[f"{before[m]:.4f}" for m in measures])
    table.add_row(
        f"{spec.model} {spec.scorer}, LoRA step {after['step']} (after)",
        *[f"{after[m]:.4f}" for m in measures],
    )
    console.print(table)
    if inspect:
        from rankscope.inspect.run import inspect_run
        from rankscope.progress import stage_bars

        console.print("[bold]inspecting[/]: weight deltas, probes, attention, adapter ablations")
        with stage_bars() as progress:
            inspect_run(out / "train", progress=progress, **INSPECT)
    html = write_report(out / "train")
    summary = {
        "bm25": bm25,
        "before": before,
        "after": after,
        "seconds": round(time.perf_counter() - start, 1),
        "report": str(html),
    }
    write_json(out / MARKER, summary)
    console.print(f"after beats before on nDCG@10: {after['nDCG@10'] > before['nDCG@10']}")
    console.print(f"run in {out / 'train'}; report: {html} ({summary['seconds']:.0f} s in all)")
    return summary
