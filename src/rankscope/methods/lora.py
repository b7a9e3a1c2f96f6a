"""LoRA (and QLoRA) on components and layers named in the component vocabulary."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from rankscope.errors import InputError
from rankscope.fields import Layers, Targets
from rankscope.methods.registry import MethodConfig, register_method
from rankscope.models.components import lora_target_names
from rankscope.models.loading import Backbone, is_encoder_config, resolve_model


class LoraMethod(MethodConfig):
    """LoRA on chosen components and layers; `qlora` loads the backbone in 4-bit (CUDA + bitsandbytes)."""

    name: Literal["lora"] = "lora"
    rank: int = Field(8, ge=1)
    alpha: float = Field(16.0, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    targets: Targets = ["attn", "mlp"]
    layers: Layers = "all"
    qlora: bool = False
    """train against the backbone loaded in 4-bit NF4 (CUDA + bitsandbytes). The run is reloaded (`rerank
    --run`, `export`, `inspect`) onto the full-precision backbone, as a merged QLoRA model is served: its
    scores can differ a little from the dev figures training measured against the 4-bit weights."""


def check_qlora() -> None:
    """QLoRA needs CUDA and bitsandbytes; refuse clearly before any loading."""
    if not torch.cuda.is_available() or importlib.util.find_spec("bitsandbytes") is None:
        raise InputError("QLoRA needs a CUDA GPU with bitsandbytes", "method.qlora")


def load_4bit_backbone(name_or_path: str, kind: str = "causal") -> Backbone:
    """A backbone whose weights load straight into 4-bit NF4 on the GPU (never a full copy first)."""
    from transformers import AutoConfig, AutoTokenizer

    check_qlora()
    path = resolve_model(name_or_path)
    is_encoder = is_encoder_config(AutoConfig.from_pretrained(path))  # as load_backbone decides
    if (kind == "encoder") != is_encoder:
        raise InputError(f"{name_or_path} is not a {kind} model", "model")
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    tok.padding_side = "right"
    return Backbone(load_4bit(path, is_encoder), tok, path, is_encoder, str(name_or_path))


def load_4bit(path: str | Path, is_encoder: bool = False) -> nn.Module:
    """The model at `path` quantised to 4-bit NF4 (bf16 compute), for QLoRA."""
    check_qlora()
    from transformers import AutoModel, AutoModelForCausalLM, BitsAndBytesConfig

    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
    )
    cls = AutoModel if is_encoder else AutoModelForCausalLM
    return cls.from_pretrained(path, quantization_config=quant, device_map={"": 0}, dtype=torch.bfloat16)


def lora_model(
    model: nn.Module, rank: int, alpha: float, dropout: float, targets: list[str], layers: str
) -> nn.Module:
    """A PeftModel with LoRA on exactly the modules the component vocabulary names."""
    from peft import LoraConfig, get_peft_model

    names = lora_target_names(model, targets, layers)
    if not names:
        raise InputError(f"no modules match targets {targets} in layers '{layers}'", "method.targets")
    cfg = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=names, bias="none")
    with warnings.catch_warnings():  # PEFT asks for a deprecated transformers attribute on every wrap
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, cfg)


@register_method("lora", LoraMethod)
def prepare_lora(model: nn.Module, cfg: MethodConfig) -> nn.Module:
    assert isinstance(cfg, LoraMethod)
    if cfg.qlora:
        check_qlora()
        if not getattr(model, "is_loaded_in_4bit", False):
            raise InputError(
                "QLoRA needs the backbone loaded in 4-bit (load it with load_4bit)", "method.qlora"
            )
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return lora_model(model, cfg.rank, cfg.alpha, cfg.dropout, cfg.targets, cfg.layers)
