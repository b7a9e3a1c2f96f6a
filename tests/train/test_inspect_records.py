"""Every training run records gradient norms per optimizer step (gradnorms.npz) and LoRA delta norms per
checkpoint (deltas.npz); a resumed run keeps each step once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from rankscope.inspect.deltas import adapter_deltas, load_deltas
from rankscope.inspect.gradnorms import load_gradnorms
from rankscope.train.run import train


def test_gradnorms_and_deltas_recorded_and_resumed(make_spec, tmp_path: Path) -> None:
    out = tmp_path / "run"
    spec = make_spec(optim={"steps": 4, "save_every": 2, "batch_size": 2, "grad_accum": 2})
    train(spec, out)
    hist = load_gradnorms(out / "gradnorms.npz")
    assert hist.steps.tolist() == [1, 2, 3, 4]  # one row per optimizer step, not per micro-batch
    assert hist.n_layers == 2 and hist.components == [
        "attn.q",
        "attn.k",
        "attn.v",
        "attn.o",
        "mlp.gate",
        "mlp.up",
        "mlp.down",
    ]
    assert hist.trained.all()
    assert (hist.norms[:, hist.trained] > 0).all()  # every trained LoRA group gets a gradient every step
    assert hist.max_grad_norm == spec.optim.max_grad_norm

    deltas = load_deltas(out / "deltas.npz")
    assert deltas.steps.tolist() == [2, 4] and deltas.labels == ["checkpoint-2", "checkpoint-4"]
    assert (deltas.norms[-1][deltas.trained] > 0).all()
    final = adapter_deltas(out / "adapter", n_layers=2)
    assert np.allclose(deltas.norms[-1], final.norms, rtol=1e-4, atol=1e-7)

    # killed after step 4 was recorded but before checkpoint-4 was written: resume from checkpoint-2
    shutil.rmtree(out / "checkpoints" / "checkpoint-4")
    (out / "summary.json").unlink()
    train(None, out, resume=True)
    again = load_gradnorms(out / "gradnorms.npz")
    assert again.steps.tolist() == [1, 2, 3, 4]  # the redone steps replace their rows
    assert np.allclose(again.norms, hist.norms, rtol=1e-3, atol=1e-8)
    redone = load_deltas(out / "deltas.npz")
    assert redone.steps.tolist() == [2, 4]
    assert np.allclose(redone.norms, deltas.norms, rtol=1e-3, atol=1e-8)
    steps = [json.loads(x)["step"] for x in (out / "loss.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
