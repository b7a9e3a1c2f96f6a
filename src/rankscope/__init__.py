"""rankscope: fine-tune LLM passage rerankers with PEFT and see where relevance is learned.

The Python API (the CLI is a thin layer over it):

    import rankscope
    from rankscope import Reranker

    r = Reranker.load("smollm2-135m", scorer="query-likelihood")   # or Reranker.from_run("runs/x")
    r.score(query, docs); r.rerank(query, docs, top_k=10); r.rerank_run(candidates)
    result = rankscope.train("spec.yaml", "runs/x")                  # result.metrics, result.reranker()
    rankscope.evaluate(run, qrels)                                   # {"nDCG@10": ...}
    result = rankscope.compare([baseline_run, run], qrels)           # paired t-test, bootstrap CI
    rankscope.power_table(result)                                    # smallest detectable delta, n needed
    rankscope.soup(["runs/x", "runs/x-seed1"], "runs/x-soup")        # weight-averaged fine-tunes
    rankscope.inspect("runs/x")                                      # probes, attention, ablations
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Reranker": ("rankscope.reranker", "Reranker"),
    "Ranked": ("rankscope.reranker", "Ranked"),
    "compare": ("rankscope.evaluate.compare", "compare"),
    "power_table": ("rankscope.evaluate.power", "power_table"),
    "fuse": ("rankscope.evaluate.fusion", "fuse"),
    "soup": ("rankscope.train.soup", "soup"),
    "load_dataset": ("rankscope.data.registry", "load_dataset"),
    "load_candidates": ("rankscope.data.registry", "load_candidates"),
    "load_spec": ("rankscope.config", "load_spec"),
    "ExperimentSpec": ("rankscope.config", "ExperimentSpec"),
    "write_report": ("rankscope.report", "write_report"),
}
_SUBPACKAGES = ("train", "evaluate", "inspect")
"""Callable subpackages: rankscope.train(...), rankscope.evaluate(...), rankscope.inspect(...)."""

__all__ = [*_LAZY, *_SUBPACKAGES, "__version__"]


def __getattr__(name: str) -> Any:
    """Import the API on first use, so `import rankscope` (and the CLI's start) stays light."""
    if name in _SUBPACKAGES:
        return importlib.import_module(f"rankscope.{name}")
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'rankscope' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The lazy API too, for tab completion in a notebook."""
    return sorted({*globals(), *__all__})
