"""The best checkpoint by the dev measure survives checkpoint rotation in RUN/best, is recorded in
summary.json, and is what a run loads and exports by default; every dev evaluation leaves its run file
and score health, and train.log ends with the health verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rankscope.data.readers import read_trec_qrels, read_trec_run
from rankscope.errors import InputError
from rankscope.scorers.base import Pair
from rankscope.train import callbacks
from rankscope.train.best import best_row
from rankscope.train.export import export
from rankscope.train.run import train
from rankscope.trained import adapter_folder, load_run_scorer

NDCG = {0: 0.5, 2: 0.6, 4: 0.9, 6: 0.7}


def test_best_row_prefers_later_steps_on_ties_and_low_dev_loss() -> None:
    rows = [
        {"step": 0, "nDCG@10": 0.9, "dev_loss": 0.1},
        {"step": 2, "nDCG@10": 0.5, "dev_loss": 0.4},
        {"step": 4, "nDCG@10": 0.5, "dev_loss": 0.3},
        {"step": 6, "nDCG@10": float("nan"), "dev_loss": 0.3},
    ]
    assert best_row(rows, "nDCG@10", {2, 4, 6})["step"] == 4  # step 0 has no adapter; NaN never wins
    assert best_row(rows, "dev_loss", {2, 4, 6})["step"] == 6
    assert best_row(rows, "RR@10", {2, 4}) is None


def scripted_metrics(monkeypatch) -> None:
    """The dev measure follows NDCG by step, whatever the tiny model does."""
    real = callbacks.DevEvalCallback.evaluate

    def evaluate(self, step: int):
        monkeypatch.setattr(callbacks, "evaluate", lambda run, qrels, measures: {"nDCG@10": NDCG[step]})
        return real(self, step)

    monkeypatch.setattr(callbacks.DevEvalCallback, "evaluate", evaluate)


def adapter_weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "adapter_model.safetensors"))


def test_best_checkpoint_is_kept_recorded_and_loaded(make_spec, tmp_path: Path, monkeypatch) -> None:
    scripted_metrics(monkeypatch)
    optim = {"steps": 6, "save_every": 2, "keep_checkpoints": 1}
    spec = make_spec(optim=optim, dev={"at_start": True})
    run = tmp_path / "run"
    res = train(spec, run)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["checkpoint-6"]  # 4 rotated away
    best = json.loads((run / "summary.json").read_text())["best_checkpoint"]
    assert best["step"] == 4 and best["measure"] == "nDCG@10" and best["value"] == 0.9
    assert res.best is not None and res.best.step == 4 and best["source"] == "checkpoints/checkpoint-4"

    full = tmp_path / "full"  # the same run keeping every checkpoint: best/ holds checkpoint-4's weights
    train(make_spec(optim={**optim, "keep_checkpoints": 5}, dev={"at_start": True}), full)
    a, b = adapter_weights(run / "best"), adapter_weights(full / "checkpoints" / "checkpoint-4")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not (run / "best" / "checksums.json").exists()  # the checkpoint's listed files best/ lacks

    assert adapter_folder(run) == run / "best"
    assert adapter_folder(run, "final") == run / "adapter"
    assert adapter_folder(full, 2) == full / "checkpoints" / "checkpoint-2"
    with pytest.raises(InputError, match=r"no such checkpoint \(the run keeps checkpoints: 2, 4, 6; or best"):
        adapter_folder(full, 7)  # "no trained adapter here" before
    monkeypatch.chdir(tmp_path)
    (tmp_path / "4").mkdir()  # a folder named like the step in the working directory
    assert adapter_folder(full, 4) == adapter_folder(full, "4") == full / "checkpoints" / "checkpoint-4"
    pairs = [Pair("query cats sleep a lot 0", "passage: cats sleep a lot (0)"), Pair("q", "passage: x")]
    by_default = load_run_scorer(run)[0].score(pairs)
    assert by_default == load_run_scorer(full, 4)[0].score(pairs)
    assert by_default != load_run_scorer(run, "final")[0].score(pairs)
    info = json.loads((export(run, tmp_path / "merged") / "rankscope.json").read_text())
    assert info["checkpoint"] == str((run / "best").resolve())

    log = (run / "train.log").read_text().splitlines()
    assert log[-1].endswith("healthy (dev nDCG@10 0.5000 -> 0.7000; no collapse, no overfitting)")
    assert any("health verdicts (dev nDCG@10) rest on 4 judged dev queries" in line for line in log)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 2, 4, 6]
    assert all({"pos_mean", "neg_mean", "auc", "margin", "spread"} <= set(r["health"]) for r in rows)
    assert sorted(p.name for p in (run / "dev_runs").iterdir()) == [f"step-{s}.trec" for s in (0, 2, 4, 6)]
    qrels, dev_run = read_trec_qrels(run / "dev_qrels.txt"), read_trec_run(run / "dev_runs" / "step-6.trec")
    assert set(dev_run) == set(qrels) and len(qrels) == 4  # 4 held-out queries


def test_select_by_must_name_a_dev_measure(make_spec, tmp_path: Path) -> None:
    from rankscope.errors import InputError

    with pytest.raises(InputError, match="dev.select_by: 'MAP' is not a dev measure"):
        train(make_spec(dev={"select_by": "MAP"}), tmp_path / "run")
    res = train(
        make_spec(dev={"select_by": "dev_loss"}, optim={"steps": 2, "save_every": 1}), tmp_path / "ok"
    )
    assert res.best is not None and res.best.measure == "dev_loss"
