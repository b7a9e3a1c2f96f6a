"""The demo: it owns its output folder, and (slow) trains, compares and reports on the real SmolLM2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankscope.demo import DEMO_SPEC, INSPECT, MARKER, _fresh
from rankscope.errors import InputError


def test_demo_spec_is_valid_and_never_trains_on_dl19() -> None:
    from rankscope.config import spec_from_dict

    spec = spec_from_dict(DEMO_SPEC, "demo spec")
    assert spec.dev.dataset == "dl19" and "dl19" in spec.eval_sets
    assert "dl19" not in spec.train.datasets


def test_demo_is_sized_for_a_small_cpu() -> None:
    """Issue 8/9: 10 minutes on a 2-core AVX2 CPU (float32) and 2 GB: two dev rerankings (before, after),
    few short pairs, gradient checkpointing, and a few inspection reranks on a subset of the dev queries."""
    from rankscope.config import spec_from_dict
    from rankscope.inspect.run import chosen_presets

    spec = spec_from_dict(DEMO_SPEC, "demo spec")
    o, d = spec.optim, spec.dev
    assert o.save_every >= o.steps and o.eval_every is None  # dev reranked at step 0 and at the end only
    assert o.gradient_checkpointing
    assert o.steps * o.batch_size * spec.train.group_size <= 96  # training sequences
    assert (d.max_queries or 0) * d.depth <= 100 and spec.max_doc_tokens <= 64
    assert INSPECT["windows"] == [] and len(chosen_presets(INSPECT["presets"])) == 2
    assert INSPECT["max_queries"] <= (d.max_queries or 0)


def test_no_bf16_environment_variable_forces_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from rankscope.runtime import NO_BF16_ENV, _cpu_flags_bf16, cpu_has_bf16, pick_dtype, use_bf16

    monkeypatch.setenv(NO_BF16_ENV, "1")
    assert not cpu_has_bf16() and not use_bf16("auto", "cpu")
    assert pick_dtype("auto", "cpu") == torch.float32
    assert use_bf16(True, "cpu")  # an explicit setting still wins
    monkeypatch.setenv(NO_BF16_ENV, "0")
    assert cpu_has_bf16() == _cpu_flags_bf16()  # "0" (or unset): the CPU's own flags


def test_unknown_ablation_preset_fails_before_any_work(tmp_path: Path) -> None:
    from rankscope.inspect.run import chosen_presets, inspect_run

    assert [a.name for a in chosen_presets(["mlp-only"])] == ["mlp-only"]
    assert len(chosen_presets(None)) > 2
    with pytest.raises(InputError, match="unknown ablation preset 'mlp-0nly'"):
        inspect_run(tmp_path / "no-run", presets=["mlp-0nly"])


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
    # a demo killed before demo.json: only its train/ run is there, and it is replaced
    (old / "train").mkdir()
    (old / "train" / "spec.yaml").write_text("model: x\n")
    _fresh(old)
    assert not any(old.iterdir())
    # a runs/ folder whose train/ is someone's run, beside other work: refused, nothing removed
    runs = tmp_path / "runs"
    (runs / "train").mkdir(parents=True)
    (runs / "train" / "spec.yaml").write_text("model: x\n")
    (runs / "important-run").mkdir()
    with pytest.raises(InputError, match="not a previous demo"):
        _fresh(runs)
    assert (runs / "important-run").is_dir() and (runs / "train" / "spec.yaml").is_file()


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
