"""Training logs reach TensorBoard through the Trainer's report_to: loss, learning rate and dev metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from rankscope.train.run import train
from rankscope.train.trainer import report_targets

pytest.importorskip("tensorboard")


def test_event_file_holds_loss_lr_and_dev_metrics(make_spec, tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    spec = make_spec(optim={"steps": 4, "batch_size": 2, "save_every": 2}, dev={"depth": 5, "at_start": True})
    train(spec, tmp_path / "run")
    events = list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert events
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/learning_rate", "eval/nDCG@10", "eval/dev_loss"} <= tags
    assert [e.step for e in acc.Scalars("train/loss")] == [1, 2, 3, 4]
    assert [e.step for e in acc.Scalars("eval/nDCG@10")] == [0, 2, 4]


def test_report_targets() -> None:
    assert report_targets("auto") == ["tensorboard"]
    assert report_targets(["none"]) == []


def test_a_logger_that_is_not_installed_is_refused_before_any_work(make_spec, tmp_path: Path) -> None:
    """report_to: [wandb] without wandb failed in the Trainer, after data and model, with a traceback, and
    left spec.yaml and train.log behind."""
    import importlib.util

    from rankscope.errors import InputError

    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed")
    with pytest.raises(InputError, match=r"optim.report_to: wandb is not installed \(pip install wandb\)"):
        train(make_spec(optim={"steps": 1, "report_to": ["wandb"]}), tmp_path / "run")
    assert not (tmp_path / "run").exists()
