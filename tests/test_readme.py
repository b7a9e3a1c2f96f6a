"""The README's Python example runs as written, on the real SmolLM2 and DL19."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_example() -> str:
    section = README.read_text().split("## Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's Python section has no python block"
    return match.group(1)


@pytest.mark.slow
def test_readme_python_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(README.parent)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(python_example(), "README.md", "exec"), {})
    lines = out.getvalue().splitlines()
    assert lines[1] == "An adult flea lives for two to three months."
    assert "nDCG@10" in lines[2] and "Comparison(" in lines[3]
