"""Checkpoint checksums: every checkpoint records the sha256 of its files; a resume skips a truncated,
bit-flipped or incomplete (no checksums.json) checkpoint, moves it aside, falls back to the previous good
one (or step 0), and still ends with the uninterrupted run's adapter, bit for bit."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file

from rankscope.train.checksums import CHECKSUMS, checkpoint_problem, last_good_checkpoint, write_checksums
from rankscope.train.run import train

ADAPTER = "adapter_model.safetensors"


def truncate(folder: Path) -> None:
    path = folder / ADAPTER
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_bit(folder: Path) -> None:
    path = folder / ADAPTER
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))


def drop_checksums(folder: Path) -> None:
    (folder / CHECKSUMS).unlink()


DAMAGES: dict[str, Callable[[Path], None]] = {
    "truncated": truncate,
    "bit flipped": flip_bit,
    "no checksums.json": drop_checksums,
}


def test_checksums_detect_each_damage(tmp_path: Path) -> None:
    for name, damage in DAMAGES.items():
        folder = tmp_path / name.replace(" ", "-")
        (folder / "sub").mkdir(parents=True)
        (folder / ADAPTER).write_bytes(bytes(range(256)) * 4)
        (folder / "sub" / "state.json").write_text("{}")
        write_checksums(folder)
        assert set(json.loads((folder / CHECKSUMS).read_text())["files"]) == {ADAPTER, "sub/state.json"}
        assert checkpoint_problem(folder) is None
        damage(folder)
        problem = checkpoint_problem(folder)
        assert problem is not None
        assert (CHECKSUMS if name == "no checksums.json" else ADAPTER) in problem


def test_last_good_checkpoint_moves_damaged_ones_aside(tmp_path: Path, caplog) -> None:
    for step in (2, 4, 6):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / ADAPTER).write_bytes(b"x" * step)
        write_checksums(folder)
    flip_bit(tmp_path / "checkpoint-6")
    (tmp_path / "damaged-checkpoint-6").mkdir()  # a name already taken by an earlier damage
    drop_checksums(tmp_path / "checkpoint-4")
    with caplog.at_level(logging.WARNING, logger="rankscope.train"):
        assert last_good_checkpoint(tmp_path) == tmp_path / "checkpoint-2"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["checkpoint-2", "damaged-checkpoint-4", "damaged-checkpoint-6", "damaged-checkpoint-6.2"]
    text = caplog.text
    assert f"damaged checkpoint checkpoint-6: {ADAPTER}: checksum mismatch" in text
    assert "damaged checkpoint checkpoint-4: no checksums.json" in text
    assert "previous good checkpoint checkpoint-2" in text


def adapter(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / ADAPTER))


def assert_identical(a: Path, b: Path) -> None:
    x, y = adapter(a), adapter(b)
    assert x.keys() == y.keys()
    assert all(torch.equal(x[k], y[k]) for k in x), "adapters differ"


def test_resume_falls_back_past_a_damaged_checkpoint(make_spec, tmp_path: Path, train_killed) -> None:
    spec = make_spec(
        method={"name": "lora", "rank": 4, "dropout": 0.1},
        optim={"steps": 6, "save_every": 2, "batch_size": 2},
    )
    whole = train(spec, tmp_path / "whole")
    assert whole.steps == 6
    for step in (2, 4, 6):
        assert checkpoint_problem(tmp_path / "whole" / "checkpoints" / f"checkpoint-{step}") is None

    train_killed(spec, tmp_path / "cut", 4)

    cases = {**{name: ["checkpoint-4"] for name in DAMAGES}, "both": ["checkpoint-4", "checkpoint-2"]}
    for name, targets in cases.items():
        run = tmp_path / name.replace(" ", "-")
        shutil.copytree(tmp_path / "cut", run)
        for target in targets:
            DAMAGES["bit flipped" if name == "both" else name](run / "checkpoints" / target)
        resumed = train(None, run, resume=True)
        assert resumed.steps == 6
        assert_identical(tmp_path / "whole" / "adapter", run / "adapter")
        log = (run / "train.log").read_text()
        for target in targets:
            assert f"damaged checkpoint {target}" in log and f"moved aside to damaged-{target}" in log
            assert (run / "checkpoints" / f"damaged-{target}").is_dir()
        if name == "both":
            assert "no good checkpoint left: starting again at step 0" in log
        else:
            assert "resuming from" in log and log.count("checkpoint-2") >= 1
        steps = [json.loads(x)["step"] for x in (run / "loss.jsonl").read_text().splitlines()]
        assert steps == [1, 2, 3, 4, 5, 6]
