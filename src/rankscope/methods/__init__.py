"""PEFT methods, each a registered config: lora, freeze (and qpeft-r / qpeft-a when registered)."""

from __future__ import annotations

from rankscope.methods import freeze, lora  # noqa: F401  (registers the built-in methods)
from rankscope.methods.registry import (
    METHODS,
    get_method,
    load_trained,
    prepare,
    register_method,
    save_trained,
)

__all__ = ["METHODS", "get_method", "load_trained", "prepare", "register_method", "save_trained"]
