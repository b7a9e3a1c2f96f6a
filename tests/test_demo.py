"""The demo: it owns its output folder, and (slow) trains, compares and reports on the real SmolLM2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankscope.demo import DEMO_SPEC, MARKER, _fresh
from rankscope.errors import InputError


def test_demo_spec_is_valid_and_never_trains_on_dl19() -> None:
    from rankscope.config import spec_from_dict

    spec = spec_from_dict(DEMO_SPEC, "demo spec")
    assert spec.dev.dataset == "dl19" and "dl19" in spec.eval_sets
    assert "dl19" not in spec.train.datasets


def test_fresh_replaces_a_previous_demo_and_refuses_other_folders(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not a previous demo"):
        _fresh(other)
    assert (other / "keep.txt").read_text() == "mine"
    old = tmp_path / "demo"
    old.mkdir()
    (old / MARKER).write_text("{}")
    (old / "stale.txt").write_text("x")
    _fresh(old)
    assert old.is_dir() and not any(old.iterdir())


@pytest.mark.slow
def test_demo_trains_compares_and_reports(tmp_path: Path) -> None:
    from rankscope.demo import run_demo

    out = tmp_path / "demo"
    summary = run_demo(out, steps=2, inspect=False)
    assert summary["before"]["step"] == 0 and summary["after"]["step"] == 2
    assert 0 <= summary["before"]["nDCG@10"] <= 1 and 0 <= summary["after"]["nDCG@10"] <= 1
    assert (out / "train" / "adapter" / "adapter_config.json").is_file()
    assert Path(summary["report"]).is_file()
    assert json.loads((out / MARKER).read_text())["after"]["step"] == 2
