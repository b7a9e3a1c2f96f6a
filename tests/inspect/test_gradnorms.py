"""Gradient norms: grouping by layer x component, totals equal torch's global norm, the Trainer callback
records every optimizer step and resumes without gaps or duplicates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset
from transformers import Trainer, TrainerCallback, TrainingArguments

from rankscope.inspect.gradnorms import OTHER, GradNormCallback, grad_norms, load_gradnorms, save_gradnorms


def backward(model: nn.Module, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, 300, (2, 12), generator=gen)
    model(input_ids=ids, labels=ids).loss.backward()


def torch_total(model: nn.Module) -> float:
    return float(torch.nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None]))


def test_lora_groups_and_total(lora_factory) -> None:
    model = lora_factory(n_layers=3)
    backward(model)
    table = grad_norms(model)
    assert table.components == ["attn.q", "attn.v", "mlp.up", "mlp.down"]
    assert table.norms.shape == (3, 4) and table.trained.all()
    assert (table.norms > 0).all() and not table.extra
    assert np.isclose(table.total, torch_total(model), rtol=1e-5)
    q_proj = model.base_model.model.model.layers[1].self_attn.q_proj
    want = torch.sqrt(
        q_proj.lora_A["default"].weight.grad.norm() ** 2 + q_proj.lora_B["default"].weight.grad.norm() ** 2
    )
    assert np.isclose(table.norms[1, 0], float(want), rtol=1e-5)


class WithHead(nn.Module):
    """A backbone with a trainable head outside the blocks (as a linear-head reranker)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.head = nn.Linear(32, 1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.model.model(input_ids=ids).last_hidden_state[:, -1]).sum()


def test_full_weights_other_column_and_extra_groups(lora_factory) -> None:
    base = lora_factory(n_layers=2).get_base_model()
    for name, p in base.named_parameters():
        p.requires_grad_(".layers.1." in name and ("mlp" in name or "layernorm" in name))
    wrapped = WithHead(base)
    wrapped(torch.randint(4, 300, (2, 9))).backward()
    table = grad_norms(wrapped)
    assert table.components == ["mlp.gate", "mlp.up", "mlp.down", OTHER]
    assert table.trained[1].all() and not table.trained[0].any()
    assert set(table.extra) == {"head"}
    assert np.isclose(table.total, torch_total(wrapped), rtol=1e-5)


class Tokens(Dataset):
    def __init__(self, n: int = 16) -> None:
        gen = torch.Generator().manual_seed(1)
        self.rows = [torch.randint(4, 300, (10,), generator=gen) for _ in range(n)]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.rows[i], "labels": self.rows[i]}


class TotalNorm(TrainerCallback):
    """What torch computes at the same moment, for comparison."""

    def __init__(self) -> None:
        self.totals: dict[int, float] = {}

    def on_pre_optimizer_step(
        self, args: Any, state: Any, control: Any, model: nn.Module = None, **kw: Any
    ) -> None:
        self.totals[state.global_step + 1] = torch_total(model)


def make_trainer(model: nn.Module, out: Path, callbacks: list[TrainerCallback], steps: int = 4) -> Trainer:
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"),
        max_steps=steps,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,
        learning_rate=1e-2,
        max_grad_norm=0.05,  # small: clipping happens, the recorded norms are the clipped ones
        save_steps=2,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    return Trainer(model=model, args=args, train_dataset=Tokens(), callbacks=callbacks)


def test_callback_records_every_step_and_resumes(lora_factory, tmp_path: Path) -> None:
    model = lora_factory(n_layers=2).train()
    check = TotalNorm()
    make_trainer(model, tmp_path, [GradNormCallback(tmp_path, flush_every=3), check]).train()
    hist = load_gradnorms(tmp_path / "gradnorms.npz")
    assert hist.steps.tolist() == [1, 2, 3, 4]
    assert hist.norms.shape == (4, 2, 4) and hist.norms.dtype == np.float32
    assert np.allclose(hist.total, [check.totals[s] for s in range(1, 5)], rtol=1e-4)
    assert (hist.total <= 0.05 + 1e-4).all() and hist.max_grad_norm == 0.05  # after clipping

    # a resumed run drops the rows after its checkpoint and records those steps again
    first = hist.norms.copy()
    model2 = lora_factory(n_layers=2).train()
    cb = GradNormCallback(tmp_path, flush_every=64)
    make_trainer(model2, tmp_path, [cb]).train(
        resume_from_checkpoint=str(tmp_path / "checkpoints" / "checkpoint-2")
    )
    again = load_gradnorms(tmp_path / "gradnorms.npz")
    assert again.steps.tolist() == [1, 2, 3, 4]
    assert np.allclose(again.norms, first, rtol=1e-5)  # kept rows, and the redone steps match too


def test_save_on_a_full_disk_leaves_the_old_file_and_no_copy(tmp_path: Path, monkeypatch) -> None:
    """gradnorms.npz went through `gradnorms.npz.tmp.npz`, left behind by a failed write (a full disk)."""
    import errno

    from rankscope.inspect import gradnorms as gn
    from rankscope.io import DiskFullError

    rng = np.random.default_rng(0)
    history = gn.GradNormHistory(
        np.arange(1, 4), rng.random((3, 2, 4), dtype=np.float32), ["attn.q", "attn.k", "attn.v", "attn.o"],
        np.ones((2, 4), dtype=bool), rng.random((3, 1), dtype=np.float32), ["other"], 1.0,
    )  # fmt: skip
    path = tmp_path / "gradnorms.npz"
    save_gradnorms(history, path)
    before = path.read_bytes()

    def full(*args: object, **kw: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gn.np, "savez", full)
    with pytest.raises(DiskFullError):
        save_gradnorms(history, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [path.name]
    monkeypatch.undo()
    again = load_gradnorms(save_gradnorms(history, tmp_path / "again.npz"))
    assert np.array_equal(again.norms, history.norms) and again.components == history.components
