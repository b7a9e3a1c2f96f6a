"""`rankscope train` and `rankscope export` end to end through the console entry point."""

from __future__ import annotations

import sys
from pathlib import Path
from unittest.mock import patch

import pytest
import yaml

from rankscope.cli import main


def invoke(*args: str) -> int | None:
    with patch.object(sys, "argv", ["rankscope", *args]), pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code


def test_train_export_and_bad_input(make_spec, tmp_path: Path, capsys) -> None:
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(make_spec(optim={"steps": 2}).dump()))
    run = tmp_path / "run"
    assert invoke("train", str(spec_file), "--out", str(run)) in (0, None)
    printed = capsys.readouterr().out
    assert "dev set per checkpoint" in printed and "tokens/s" in printed
    assert yaml.safe_load((run / "spec.yaml").read_text())["optim"]["steps"] == 2

    assert invoke("train", str(spec_file), "--out", str(run)) == 2  # never overwrites silently
    assert "not empty" in capsys.readouterr().err
    assert invoke("train", "--out", str(run), "--resume") in (0, None)  # already finished: nothing to redo

    assert invoke("export", str(run), "--out", str(tmp_path / "merged")) in (0, None)
    assert (tmp_path / "merged" / "model.safetensors").is_file()

    spec_file.write_text(spec_file.read_text().replace("lr: 0.02", "lr: fast"))
    assert invoke("train", str(spec_file), "--out", str(tmp_path / "other")) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "spec.yaml: optim.lr: Input should be a valid number" in err
