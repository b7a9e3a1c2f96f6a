"""The model card: the command that made a run, also after a resume."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from unittest.mock import patch

from rankscope.train.card import model_card
from rankscope.train.run import ENVIRONMENT_FILE, record_environment


def test_the_card_names_the_first_command_and_each_resume(make_spec, tmp_path: Path) -> None:
    """A resumed run's card named the resume's command (`--resume`, from a later process) as the one that
    made the run; each session now records its command, and the card gives the first and the resumes."""
    first = ["rankscope", "train", "a.yaml", "--out", str(tmp_path)]
    with patch.object(sys, "argv", first):
        record_environment(tmp_path, 0, "cpu", False)
    with patch.object(sys, "argv", [*first, "--resume"]):
        record_environment(tmp_path, 2, "cpu", False)
    sessions = [json.loads(line) for line in (tmp_path / ENVIRONMENT_FILE).read_text().splitlines()]
    assert [s["step"] for s in sessions] == [0, 2]
    (tmp_path / "summary.json").write_text(json.dumps({"steps": 3, "environment": sessions}))
    card = model_card(tmp_path, make_spec(), command=" ".join([*first, "--resume"]))
    assert f"- command: `rankscope train a.yaml --out {tmp_path}`" in card
    assert f"- resumed at step 2: `rankscope train a.yaml --out {tmp_path} --resume`" in card
    assert "- environment from step 2: python" in card and "command rankscope" not in card


def test_a_resume_is_not_named_as_the_command_that_made_the_run(make_spec, tmp_path: Path) -> None:
    """A run started from Python (or before commands were recorded) and resumed from the CLI named the
    resume's `--resume` command as the one that made it."""
    with patch.object(sys, "argv", ["train.py"]):
        record_environment(tmp_path, 0, "cpu", False)
    resume = ["rankscope", "train", "a.yaml", "--out", str(tmp_path), "--resume"]
    with patch.object(sys, "argv", resume):
        record_environment(tmp_path, 2, "cpu", False)
    sessions = [json.loads(line) for line in (tmp_path / ENVIRONMENT_FILE).read_text().splitlines()]
    (tmp_path / "summary.json").write_text(json.dumps({"steps": 3, "environment": sessions}))
    card = model_card(tmp_path, make_spec(), command=" ".join(resume))
    assert "- command: `not recorded" in card
    assert f"- resumed at step 2: `rankscope train a.yaml --out {tmp_path} --resume`" in card
