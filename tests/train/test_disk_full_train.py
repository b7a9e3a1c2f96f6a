"""Training on a full disk: one line naming the run folder, exit code 1, no traceback; after space is
freed, --resume skips the checkpoint the full disk cut off."""

from __future__ import annotations

from pathlib import Path

import yaml


def test_train_on_a_full_disk_is_one_line_and_resumes(rankscope, make_spec, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(make_spec(optim={"steps": 4, "save_every": 2}).dump()))
    out = tmp_path / "run"
    full = rankscope("train", str(spec), "--out", str(out), limit=40_000)  # optimizer.pt is ~56 KB
    assert full.returncode == 1, full.stderr[-2000:]
    assert f"error: disk full while writing {out}" in full.stderr and "Traceback" not in full.stderr
    assert not (out / "adapter").exists()
    resumed = rankscope("train", "--out", str(out), "--resume")  # space freed: the cut checkpoint is skipped
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "damaged checkpoint checkpoint-2" in resumed.stderr
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
