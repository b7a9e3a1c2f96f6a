"""Inspection: gradient norms, weight deltas, probes, attention, adapter ablation and the training trajectory.

Each analysis returns a typed result and saves it as one small file in a run folder (`save_*`/`load_*`),
which `rankscope.report.write_report` turns into figures and an HTML page. `rankscope.inspect(run_dir,
**options)` runs them all on a trained run (rankscope.inspect.run.inspect_run).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rankscope._callable import make_callable


def _inspect() -> Callable[..., Any]:
    from rankscope.inspect.run import inspect_run

    return inspect_run


make_callable(__name__, _inspect)
