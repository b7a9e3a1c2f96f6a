"""PEFT methods, each a registered config: lora, freeze, qpeft-r and qpeft-a."""

from __future__ import annotations

from rankscope.methods import freeze, lora, qpeft  # noqa: F401  (registers the built-in methods)
from rankscope.methods.registry import (
    METHODS,
    get_method,
    load_trained,
    prepare,
    register_method,
    save_trained,
)

__all__ = ["METHODS", "get_method", "load_trained", "prepare", "register_method", "save_trained"]
