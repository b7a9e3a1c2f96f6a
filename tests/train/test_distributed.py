"""Two CPU processes (torchrun, gloo) train one run: only rank 0 writes, both finish."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


@pytest.mark.skipif(
    shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None, reason="no torchrun"
)
def test_two_process_training(make_spec, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(make_spec(optim={"steps": 2}).dump()))
    bin_dir = Path(sys.executable).parent
    cmd = [str(bin_dir / "torchrun"), "--nproc_per_node", "2", str(bin_dir / "rankscope"), "train", str(spec)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [*cmd, "--out", str(tmp_path / "run")], env=env, capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("2 steps in") == 2  # both ranks ran to the end
    run = tmp_path / "run"
    assert [json.loads(x)["step"] for x in (run / "loss.jsonl").read_text().splitlines()] == [1, 2]
    assert (run / "adapter" / "adapter_model.safetensors").is_file()
