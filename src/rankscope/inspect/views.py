"""Temporary views of a model shared by the inspection passes, each undone on exit."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from torch import nn

from rankscope.errors import InputError
from rankscope.scorers.base import Pair, Scorer

Item = Pair | tuple[str, str, str]
"""A pair for pointwise scorers, or (query, document A, document B) for the pairwise scorer."""


def base_model_view(model: nn.Module) -> contextlib.AbstractContextManager[Any]:
    """`model` with its PEFT adapters switched off (peft's own context manager); refuses plain models."""
    if not hasattr(model, "disable_adapter"):
        raise InputError("the model has no PEFT adapters to switch off: pass a separate base scorer")
    return model.disable_adapter()


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Dropout off for the block; the previous train/eval mode comes back."""
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


def check_inspectable(scorer: Scorer) -> None:
    """Q-PEFT's soft prompts are not part of the token sequence these passes read: refuse clearly."""
    if hasattr(scorer, "prompter"):
        raise InputError("probes and attention do not cover Q-PEFT soft prompts (the LLM itself is frozen)")
