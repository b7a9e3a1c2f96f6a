"""The `fuzz` marker, and the number of hypothesis examples the fuzz tests ran, in the terminal summary."""

from __future__ import annotations

import sys

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fuzz: hypothesis fuzzing of the readers (runs in the normal suite)")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    fuzz = next(
        (
            m
            for m in list(sys.modules.values())
            if getattr(m, "__file__", "") and m.__file__.endswith("test_fuzz.py")
        ),
        None,
    )
    tried = getattr(fuzz, "TRIED", None)
    if tried:
        terminalreporter.write_line(
            f"hypothesis fuzzing: {sum(tried.values())} examples over {len(tried)} tests "
            f"(max_examples={fuzz.EXAMPLES} per test)"
        )
