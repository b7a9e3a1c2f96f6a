"""Training: losses as modules, a thin transformers.Trainer subclass, callbacks, the train/export commands.

`rankscope.train(spec, out, resume=False)` trains a spec (a YAML path or an ExperimentSpec) into `out`
and returns a `TrainResult` (its metrics, and `.reranker()` for the trained reranker).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rankscope._callable import make_callable


def _train() -> Callable[..., Any]:
    from rankscope.train.run import train

    return train


make_callable(__name__, _train)
