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
    launch = [str(bin_dir / "torchrun"), "--standalone", "--nproc_per_node", "2"]  # a free port
    cmd = [*launch, str(bin_dir / "rankscope"), "train", str(spec), "--out", str(tmp_path / "run")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, why_failed(proc.stderr)
    assert proc.stdout.count("2 steps in") == 2  # both ranks ran to the end
    # rank 1 waited for rank 0's summary.json (end_distributed) before it printed its verdict
    assert proc.stdout.count("health: healthy") == 2, proc.stdout
    run = tmp_path / "run"
    assert [json.loads(x)["step"] for x in (run / "loss.jsonl").read_text().splitlines()] == [1, 2]
    assert (run / "adapter" / "adapter_model.safetensors").is_file()


def why_failed(stderr: str) -> str:
    """A failed launch's stderr ends in torchrun's summary: show the ranks' own errors above it too."""
    cues = ("terminate", "what()", "Error", "Exception", "abort", "Abort")
    lines = [x for x in stderr.splitlines() if any(c in x for c in cues)]
    return "\n".join(lines[:40]) + "\n...\n" + stderr[-2000:]


def test_end_distributed_tears_the_group_down(tmp_path: Path) -> None:
    import torch.distributed as dist

    from rankscope.train.run import end_distributed

    end_distributed()  # one process, no group: nothing to do
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        assert dist.is_initialized()
        end_distributed()
        assert not dist.is_initialized()
    finally:  # later tests' Trainers must not find a group
        if dist.is_initialized():
            dist.destroy_process_group()
