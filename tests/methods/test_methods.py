"""Methods by name: LoRA on vocabulary components and layers, freezing, QLoRA's refusal, the registry hook."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
import torch
from peft import PeftModel
from torch import nn
from transformers import LlamaForCausalLM

from rankscope.config import FreezeMethod, LoraMethod, MethodConfig, spec_from_dict
from rankscope.errors import InputError
from rankscope.methods import METHODS, load_trained, prepare, register_method, save_trained
from rankscope.methods.registry import merged


@pytest.fixture()
def model(llama_dir: Path) -> LlamaForCausalLM:
    """A fresh copy: LoRA wraps a model in place, so never the shared session model."""
    return LlamaForCausalLM.from_pretrained(llama_dir)


def test_lora_targets_exactly_the_named_components_and_layers(model) -> None:
    peft = prepare(model, LoraMethod(rank=2, targets=["attn.q", "attn.v", "mlp.down"], layers="1"))
    assert isinstance(peft, PeftModel)
    adapted = {n.rsplit(".lora_A", 1)[0] for n, _ in peft.named_parameters() if ".lora_A." in n}
    assert adapted == {
        f"base_model.model.model.layers.1.{m}"
        for m in ("self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj")
    }
    trainable = [n for n, p in peft.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)


def test_lora_layer_out_of_range_is_refused(model) -> None:
    with pytest.raises(InputError, match="out of range"):
        prepare(model, LoraMethod(layers="0-5"))


def test_freeze_full_weights_trains_only_chosen_tensors(model) -> None:
    frozen = prepare(model, FreezeMethod(layers="0", targets=["attn.o", "mlp.up"]))
    trainable = sorted(n for n, p in frozen.named_parameters() if p.requires_grad)
    assert trainable == ["model.layers.0.mlp.up_proj.weight", "model.layers.0.self_attn.o_proj.weight"]
    assert isinstance(prepare_lora_freeze(model), PeftModel)


def prepare_lora_freeze(model: nn.Module) -> nn.Module:
    return prepare(model, FreezeMethod(layers="1", targets=["mlp"], full_weights=False, rank=2))


def test_save_and_load_trained_round_trip(llama_dir: Path, tmp_path: Path) -> None:
    for cfg in (LoraMethod(rank=2), FreezeMethod(layers="1", targets=["mlp.down"])):
        a = prepare(LlamaForCausalLM.from_pretrained(llama_dir), cfg)
        with torch.no_grad():
            for p in a.parameters():
                if p.requires_grad:
                    p.add_(0.01)
        save_trained(a, tmp_path / cfg.name)
        b = load_trained(prepare(LlamaForCausalLM.from_pretrained(llama_dir), cfg), tmp_path / cfg.name)
        ids = torch.tensor([[2, 10, 20, 30]])
        torch.testing.assert_close(a(ids).logits, b(ids).logits)
        torch.testing.assert_close(merged(b)(ids).logits, a(ids).logits, atol=1e-4, rtol=0)


def test_qlora_needs_cuda(model) -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(InputError, match="QLoRA needs a CUDA GPU with bitsandbytes"):
        prepare(model, LoraMethod(qlora=True))


def test_registry_hook_takes_new_methods(model) -> None:
    class BiasOnly(MethodConfig):
        name: Literal["bias-only"] = "bias-only"
        scale: float = 1.0

    @register_method("bias-only", BiasOnly)
    def prepare_bias(m: nn.Module, cfg: MethodConfig) -> nn.Module:
        for n, p in m.named_parameters():
            p.requires_grad_(n.endswith("norm.weight"))
        return m

    try:
        spec = spec_from_dict(
            {
                "model": "m",
                "scorer": "yes-no",
                "objective": "listwise",
                "method": {"name": "bias-only", "scale": 2},
                "train": {"datasets": ["dl21"]},
            }
        )
        assert isinstance(spec.method, BiasOnly) and spec.method.scale == 2
        assert spec.dump()["method"] == {"name": "bias-only", "scale": 2.0}
        with pytest.raises(InputError, match="method.scal: Extra inputs are not permitted"):
            spec_from_dict({**spec.dump(), "method": {"name": "bias-only", "scal": 2}})
        out = prepare(model, spec.method)
        assert all(n.endswith("norm.weight") for n, p in out.named_parameters() if p.requires_grad)
    finally:
        METHODS.pop("bias-only")
        from rankscope.config import METHOD_CONFIGS

        METHOD_CONFIGS.pop("bias-only")
