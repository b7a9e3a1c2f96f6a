"""Tiny models on one thread: fastest, and least disturbed by other processes."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _single_thread(one_thread: None) -> None:
    """Every test here runs torch on one thread (tests/conftest.py's one_thread)."""
