"""A run killed after a checkpoint and resumed ends with the same adapter as an uninterrupted run; a
non-finite loss stops the run and keeps the last good checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rankscope.train.run import train


def adapter(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "adapter_model.safetensors"))


@pytest.mark.parametrize("scorer", ["yes-no", "linear-head"])
def test_resume_after_kill_matches_uninterrupted(
    make_spec, tmp_path: Path, train_killed, scorer: str
) -> None:
    spec = make_spec(
        scorer=scorer,
        method={"name": "lora", "rank": 4, "dropout": 0.1},
        optim={"steps": 8, "save_every": 2, "batch_size": 2},  # 6 batches an epoch: crosses one
    )
    whole = train(spec, tmp_path / "whole")
    assert whole.steps == 8

    train_killed(spec, tmp_path / "cut", 4)  # the process dies right after checkpoint-4 is written
    assert not (tmp_path / "cut" / "adapter").exists()
    resumed = train(None, tmp_path / "cut", resume=True)
    assert resumed.steps == 8

    a, b = adapter(tmp_path / "whole" / "adapter"), adapter(tmp_path / "cut" / "adapter")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    if scorer == "linear-head":
        ha = load_file(str(tmp_path / "whole" / "adapter" / "head.safetensors"))
        hb = load_file(str(tmp_path / "cut" / "adapter" / "head.safetensors"))
        torch.testing.assert_close(ha["linear.weight"], hb["linear.weight"], rtol=0, atol=1e-6)
    whole_summary = json.loads((tmp_path / "whole" / "summary.json").read_text())
    cut_summary = json.loads((tmp_path / "cut" / "summary.json").read_text())
    # the run's tokens over both sessions (the resumed summary counted the last session's only)
    assert cut_summary["tokens_seen"] == whole_summary["tokens_seen"] > 0
    assert cut_summary["train_seconds"] > 0
    env = cut_summary["environment"]
    assert [row["step"] for row in env] == [0, 4]  # the start and the resume, each with its environment
    steps = [json.loads(x)["step"] for x in (tmp_path / "cut" / "loss.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6, 7, 8]  # redone steps are not logged twice
    assert len(list((tmp_path / "whole" / "checkpoints").iterdir())) == 3  # rotation keeps the last 3


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(make_spec, tmp_path: Path, monkeypatch) -> None:
    from rankscope.train import run as run_mod

    real_build = run_mod.build_loss

    def poisoned(*args, **kw):
        inner = real_build(*args, **kw)
        calls = {"n": 0}

        class Poison(torch.nn.Module):
            def forward(self, scores, labels):
                loss = inner(scores, labels)
                if scores.requires_grad:
                    calls["n"] += 1
                    if calls["n"] == 4:
                        return loss * float("nan")
                return loss

        return Poison()

    monkeypatch.setattr(run_mod, "build_loss", poisoned)
    out = tmp_path / "run"
    res = train(make_spec(optim={"steps": 6, "save_every": 2}), out)
    assert res.stopped_at == 4 and res.steps == 4
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert names == ["checkpoint-2"]  # step 4 was not saved
    a, b = adapter(out / "adapter"), adapter(out / "checkpoints" / "checkpoint-2")
    assert all(torch.equal(a[k], b[k]) for k in a)
    log = (out / "train.log").read_text()
    assert "non-finite loss at step 4" in log and "kept the last good checkpoint checkpoint-2" in log


def test_each_session_records_its_environment_and_a_changed_one_is_warned(
    tmp_path: Path, monkeypatch, caplog
) -> None:
    import logging

    from rankscope.train import run

    first = run.record_environment(tmp_path, 0, "cpu", False)
    assert first["step"] == 0 and first["torch"] == torch.__version__

    def warnings() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.levelno >= logging.WARNING]

    with caplog.at_level(logging.INFO, logger=run.log.name):
        run.record_environment(tmp_path, 4, "cpu", False)  # the same machine: no warning
        assert not warnings()
        assert "environment: python" in caplog.text
        monkeypatch.setattr(torch, "get_num_threads", lambda: first["threads"] + 3)
        run.record_environment(tmp_path, 6, "cpu", False)
    (warning,) = warnings()
    assert "resuming at step 6" in warning.getMessage()
    assert f"threads: {first['threads']} -> {first['threads'] + 3}" in warning.getMessage()
    rows = [json.loads(x) for x in (tmp_path / run.ENVIRONMENT_FILE).read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 4, 6]
    cut = json.dumps(rows[0]) + "\n" + '{"step": 9, "tor'  # a second line cut off by a kill
    (tmp_path / run.ENVIRONMENT_FILE).write_text(cut)
    run.record_environment(tmp_path, 9, "cpu", False)
    rows = [json.loads(x) for x in (tmp_path / run.ENVIRONMENT_FILE).read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 9]


class Killed(BaseException):
    """The process dies (nothing in rankscope catches it)."""


def _record(out: Path) -> tuple[list[int], list[str], int, dict | None]:
    rows = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    summary = json.loads((out / "summary.json").read_text())
    final = {k: v for k, v in (summary["final_dev"] or {}).items() if k != "seconds"} or None
    return (
        rows,
        sorted(p.name for p in (out / "dev_runs").iterdir()),
        summary["best_checkpoint"]["step"],
        final,
    )


@pytest.mark.parametrize("where", ["dev evaluation", "copy to best", "after the last evaluation"])
def test_a_kill_inside_a_checkpoints_aftermath_is_made_good(
    make_spec, tmp_path: Path, monkeypatch, train_killed, where: str
) -> None:
    from rankscope.train import best, callbacks

    spec = make_spec(optim={"steps": 6, "save_every": 2, "batch_size": 2, "keep_checkpoints": 1})
    whole = tmp_path / "whole"
    train(spec, whole)
    cut = tmp_path / "cut"
    if where == "after the last evaluation":
        train_killed(spec, cut, 6)  # summary.json had no final_dev
    else:
        module, name = (
            (callbacks.DevEvalCallback, "evaluate") if where == "dev evaluation" else (best, "keep_best")
        )
        real = getattr(module, name)

        def die_at_step_2(*args: object) -> object:
            step = args[1] if module is callbacks.DevEvalCallback else args[2]
            if step == 2:
                raise Killed  # checkpoint-2 is written; its dev row (or RUN/best) is not
            return real(*args)

        monkeypatch.setattr(module, name, die_at_step_2)
        with pytest.raises(Killed):
            train(spec, cut)
        monkeypatch.setattr(module, name, real)
    train(None, cut, resume=True)
    assert _record(cut) == _record(whole)  # step 2's row, run file and claim to best were lost before
