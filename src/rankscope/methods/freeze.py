"""Train only chosen layers/components: their full weights, or LoRA on them (the layer-freezing ablation)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import nn

from rankscope.errors import InputError
from rankscope.fields import Layers, Targets
from rankscope.methods.lora import lora_model
from rankscope.methods.registry import MethodConfig, register_method
from rankscope.models.components import (
    check_named,
    classify_parameters,
    expand_components,
    num_layers,
    parse_layers,
)


class FreezeMethod(MethodConfig):
    """Train only the chosen layers/components: fully (`full_weights`) or through LoRA on them."""

    name: Literal["freeze"] = "freeze"
    layers: Layers = "all"
    targets: Targets = ["attn", "mlp"]
    full_weights: bool = True
    rank: int = Field(8, ge=1)
    alpha: float = Field(16.0, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)

    def trains_full_weights(self) -> bool:
        return self.full_weights


def unfreeze(model: nn.Module, targets: list[str], layers: str) -> int:
    """Make only the named components of the named layers trainable; returns how many tensors.

    A fused projection (Phi-3 qkv_proj) trains when any component it fuses is named."""
    check_named(model, targets)  # a component the model lacks, named, is refused (as LoRA does)
    comps = set(expand_components(targets))
    chosen = set(parse_layers(layers, num_layers(model)))
    where = classify_parameters(model)
    count = 0
    for name, p in model.named_parameters():
        hit = where.get(name)
        train = hit is not None and hit[0] in chosen and any(c in comps for c in hit[1].split("+"))
        p.requires_grad_(train)
        count += int(train)
    if not count:
        raise InputError(f"no weights match targets {targets} in layers '{layers}'", "method.targets")
    return count


@register_method("freeze", FreezeMethod)
def prepare_freeze(model: nn.Module, cfg: MethodConfig) -> nn.Module:
    assert isinstance(cfg, FreezeMethod)
    if cfg.full_weights:
        unfreeze(model, cfg.targets, cfg.layers)
        return model
    return lora_model(model, cfg.rank, cfg.alpha, cfg.dropout, cfg.targets, cfg.layers)
