"""bench/faults.py at a small size: `train` killed 3 times (the first while a checkpoint is being written)
and resumed, `rerank` and `export` killed and rerun; every final output equals an uninterrupted run's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.faults
def test_kills_lose_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    args = ["--kills", "3", "--rerank-kills", "2", "--export-kills", "1", "--sweep-kills", "0"]
    cmd = [sys.executable, str(ROOT / "bench" / "faults.py"), *args, "--seed", "0", "--work", str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    train = next(x for x in lines if x.startswith("train:"))
    assert train.startswith("train: 3 kills (") and "3 identical adapters" in train
    assert "while checkpointing)" in train and "(0 while" not in train
    # a run that finished before its kill moment is tried again (counted as "finished before the kill")
    rerank = "rerank: 2 kills, 2 identical run files, 0 partial outputs visible"
    export = "export: 1 kills, 1 identical exports, 0 partial outputs visible"
    assert any(x.startswith(rerank) for x in lines) and any(x.startswith(export) for x in lines)
