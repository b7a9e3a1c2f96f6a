"""PEFT methods registered by name (as PEFT registers tuners): one `prepare(model, config)` entry point."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors.torch import save_file
from torch import nn

from rankscope.errors import InputError
from rankscope.fields import Strict
from rankscope.io import read_weights


class MethodConfig(Strict):
    """Base of every PEFT method config; each method keeps its config beside it (as PEFT does) and
    registers both with `register_method`."""

    name: str
    scorers: ClassVar[tuple[str, ...] | None] = None
    """Scorers the method works with (None: any)."""

    def trains_full_weights(self) -> bool:
        """True when the method trains the model's own weights (not adapters or prompts): the backbone is
        then kept in float32, and `inspect` compares against a second, untrained copy for weight deltas
        and weight-update ablation. A custom method that unfreezes weights overrides this."""
        return False


METHOD_CONFIGS: dict[str, type[MethodConfig]] = {}


def register_method_config(name: str, cls: type[MethodConfig]) -> type[MethodConfig]:
    """Make `method: {name: NAME, ...}` in a spec validate with `cls`."""
    METHOD_CONFIGS[name] = cls
    return cls


Prepare = Callable[[nn.Module, MethodConfig], nn.Module]
TRAINABLE_FILE = "trainable.safetensors"
PEFT_CONFIG = "adapter_config.json"
PEFT_WEIGHTS = "adapter_model.safetensors"
"""the files of an adapter in PEFT's own format (LoRA runs)."""


@dataclass(frozen=True)
class Method:
    """A registered method. `scorer(model, tokenizer, config, spec)` and `reranker` (a class like those in
    rankscope.scorers.trainable) replace the spec's scorer when a method brings its own (Q-PEFT's prompter
    in front of a frozen LLM); such a scorer keeps its trainable module on `scorer.head`."""

    name: str
    config: type[MethodConfig]
    prepare: Prepare
    scorer: Callable[..., Any] | None = None
    reranker: Callable[..., Any] | None = None


METHODS: dict[str, Method] = {}


def register_method(
    name: str,
    config: type[MethodConfig],
    scorer: Callable[..., Any] | None = None,
    reranker: Callable[..., Any] | None = None,
) -> Callable[[Prepare], Prepare]:
    """Decorator: `prepare_fn(model, cfg) -> module` becomes method `name`, its spec validated by `config`."""

    def wrap(fn: Prepare) -> Prepare:
        register_method_config(name, config)
        METHODS[name] = Method(name, config, fn, scorer, reranker)
        return fn

    return wrap


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise InputError(f"unknown method '{name}': expected one of {', '.join(METHODS)}", "method.name")
    return METHODS[name]


def prepare(model: nn.Module, config: MethodConfig) -> nn.Module:
    """The model ready to train under `config`: a PEFT model, or one with only chosen weights trainable."""
    return get_method(config.name).prepare(model, config)


def is_peft(model: nn.Module) -> bool:
    from peft import PeftModel

    return isinstance(model, PeftModel)


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def save_trained(model: nn.Module, folder: str | Path) -> None:
    """A PEFT adapter in PEFT's own format, or the trained weights of a non-PEFT method as safetensors."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if is_peft(model):
        model.save_pretrained(str(folder))
    else:
        save_file(trainable_state(model), str(folder / TRAINABLE_FILE))


def load_trained(model: nn.Module, folder: str | Path) -> nn.Module:
    """Load what `save_trained` wrote into a model prepared the same way (in place)."""
    folder = Path(folder)
    if is_peft(model):
        from peft import set_peft_model_state_dict

        weights = folder / PEFT_WEIGHTS
        if not weights.is_file():
            raise InputError(f"no PEFT adapter here ({PEFT_WEIGHTS})", folder)
        result = set_peft_model_state_dict(model, read_weights(weights))
        if getattr(result, "unexpected_keys", None):
            raise InputError(f"adapter does not fit the model: {result.unexpected_keys[0]}", folder)
        return model
    weights = folder / TRAINABLE_FILE
    if not weights.is_file():
        raise InputError(f"no trained weights here ({TRAINABLE_FILE})", folder)
    state = read_weights(weights)
    missing = set(trainable_state(model)) - set(state)
    if missing:
        raise InputError(f"trained weights lack '{sorted(missing)[0]}'", folder)
    device = next(model.parameters()).device
    model.load_state_dict({k: v.to(device) for k, v in state.items()}, strict=False)
    return model


def merged(model: nn.Module) -> nn.Module:
    """A plain transformers model: LoRA merged into the base weights (merge_and_unload)."""
    return model.merge_and_unload() if is_peft(model) else model


def method_scorer(spec: Any, model: nn.Module, tokenizer: Any) -> Any:
    """The spec's scorer over the prepared model (with the spec's token budgets), or the one its method
    brings (Q-PEFT's prompter in front of a frozen LLM)."""

    method = get_method(spec.method.name)
    if method.scorer is not None:
        return method.scorer(model, tokenizer, spec.method, spec)
    return spec_scorer(spec, model, tokenizer)


def spec_scorer(spec: Any, model: nn.Module, tokenizer: Any) -> Any:
    """The spec's registered scorer over `model`, with the spec's token budgets and system prompt."""
    from rankscope.scorers.registry import build_scorer

    budgets = (spec.max_query_tokens, spec.max_doc_tokens)
    return build_scorer(spec.scorer, model, tokenizer, None, *budgets, getattr(spec, "system_prompt", None))


def method_reranker(spec: Any, scorer: Any, model: nn.Module) -> nn.Module:
    """The trainable module: the method's own reranker class, else the scorer's registered one."""
    from rankscope.scorers.registry import build_reranker

    cls = get_method(spec.method.name).reranker
    if cls is not None:
        return cls(scorer, model, getattr(scorer, "head", None))
    return build_reranker(spec.scorer, scorer, model, seed=spec.train.seed)
