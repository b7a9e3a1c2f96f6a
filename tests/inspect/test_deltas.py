"""Weight deltas: ||scaling * B @ A||_F per layer x component from a live model, an adapter folder and a
run's checkpoints, matching PEFT's own delta weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from peft import LoraConfig, get_peft_model

from rankscope.errors import InputError
from rankscope.inspect.deltas import (
    adapter_deltas,
    classify_name,
    load_deltas,
    lora_update_norm,
    model_deltas,
    run_deltas,
    save_deltas,
    weight_deltas,
)
from rankscope.methods.registry import save_trained
from rankscope.testing import tiny_llama


def test_update_norm_matches_dense_product() -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 20, generator=gen), torch.randn(12, 4, generator=gen)
    assert np.isclose(lora_update_norm(a, b, 0.5), float((0.5 * b.double() @ a.double()).norm()), rtol=1e-12)


def test_model_deltas_match_peft(lora_factory) -> None:
    model = lora_factory(n_layers=3)
    table = model_deltas(model)
    assert table.components == ["attn.q", "attn.v", "mlp.up", "mlp.down"]
    assert table.norms.shape == (3, 4) and table.trained.all()
    layer = model.base_model.model.model.layers[2]
    want = float(layer.mlp.down_proj.get_delta_weight("default").norm())
    assert np.isclose(table.norms[2, 3], want, rtol=1e-5)


def test_fresh_adapter_has_zero_delta(lora_factory) -> None:
    model = lora_factory(n_layers=2, std=0.0)  # B = 0, as PEFT initialises it
    assert (model_deltas(model).norms == 0).all()


def test_adapter_folder_matches_model_with_and_without_model(lora_factory, tmp_path: Path) -> None:
    model = lora_factory(n_layers=3)
    model.save_pretrained(tmp_path / "adapter")
    live = model_deltas(model)
    by_model = adapter_deltas(tmp_path / "adapter", model.get_base_model())
    by_name = adapter_deltas(tmp_path / "adapter", n_layers=3)
    assert np.allclose(by_model.norms, live.norms, rtol=1e-6)
    assert np.allclose(by_name.norms, live.norms, rtol=1e-6)
    with pytest.raises(InputError):
        adapter_deltas(tmp_path)


def test_rslora_and_alpha_pattern_scaling(tmp_path: Path, lora_factory) -> None:
    cfg = LoraConfig(
        r=4,
        lora_alpha=8,
        use_rslora=True,
        alpha_pattern={"o_proj": 3.0},
        target_modules=["o_proj", "k_proj"],
        init_lora_weights=False,
    )
    model = get_peft_model(lora_factory(n_layers=2).unload(), cfg)
    model.save_pretrained(tmp_path / "a")
    got = adapter_deltas(tmp_path / "a", model.get_base_model())
    attn = model.base_model.model.model.layers[0].self_attn
    assert got.components == ["attn.k", "attn.o"]
    for j, module in enumerate((attn.k_proj, attn.o_proj)):
        assert np.isclose(got.norms[0, j], float(module.get_delta_weight("default").norm()), rtol=1e-5)


def test_classify_name_without_model() -> None:
    assert classify_name("base_model.model.model.layers.7.mlp.down_proj") == (7, "mlp.down")
    assert classify_name("gpt_neox.layers.2.attention.query_key_value", "gpt_neox") == (
        2,
        "attn.q+attn.k+attn.v",
    )
    assert classify_name("model.embed_tokens") is None


def test_run_deltas_across_checkpoints(lora_factory, tmp_path: Path) -> None:
    run = tmp_path / "run"
    tables = []
    for step, std in ((2, 0.1), (4, 0.3), (10, 0.5)):
        model = lora_factory(n_layers=3, std=std)
        model.save_pretrained(run / "checkpoints" / f"checkpoint-{step}")
        tables.append(model_deltas(model).norms)
    (run / "checkpoints" / "checkpoint-x").mkdir()  # not a checkpoint: ignored
    hist = run_deltas(run)
    assert hist.steps.tolist() == [2, 4, 10] and hist.labels[-1] == "checkpoint-10"
    assert hist.norms.shape == (3, 3, 4)
    assert np.allclose(hist.norms, np.stack(tables), rtol=1e-5)
    assert (np.diff(hist.norms.sum(axis=(1, 2))) > 0).all()  # larger B, larger update
    back = load_deltas(save_deltas(hist, tmp_path / "deltas.npz"))
    assert back.labels == hist.labels and back.components == hist.components
    assert np.array_equal(back.norms, hist.norms) and np.array_equal(back.trained, hist.trained)
    with pytest.raises(InputError):
        run_deltas(tmp_path / "nothing")


def test_weight_deltas_of_full_weights(tokenizer, tmp_path: Path) -> None:
    """A full-weight run's change ||W - W0||_F lands in its own (layer, component) cell, zero elsewhere."""
    base = tiny_llama(len(tokenizer), 3)
    tuned = tiny_llama(len(tokenizer), 3)
    tuned.load_state_dict(base.state_dict())
    for name, p in tuned.named_parameters():
        p.requires_grad_(".layers.1.mlp." in name)
    with torch.no_grad():
        tuned.model.layers[1].mlp.up_proj.weight.add_(0.5)
    save_trained(tuned, tmp_path / "ckpt")
    table = weight_deltas(tmp_path / "ckpt", base)
    assert table.components == ["mlp.gate", "mlp.up", "mlp.down"] and table.norms.shape == (3, 3)
    want = 0.5 * np.sqrt(tuned.model.layers[1].mlp.up_proj.weight.numel())
    assert np.isclose(table.norms[1, 1], want, rtol=1e-5)
    assert (
        table.norms[1, 0] == table.norms[1, 2] == 0 and table.trained[1].all() and not table.trained[0].any()
    )
    with pytest.raises(InputError, match="trainable.safetensors"):
        weight_deltas(tmp_path, base)
