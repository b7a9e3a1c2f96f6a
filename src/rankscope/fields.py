"""Pydantic building blocks shared by the experiment spec and the method configs beside their methods."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo

KEEP_DEFAULT_SYSTEM = "@default"
"""`system_prompt` value that keeps a chat template's own default system prompt (SmolLM2's names the
assistant); what runs trained before rankscope dropped that default were trained with."""
QUERY_TOKENS = 64
DOC_TOKENS = 192
"""default token budgets of a query and a document (an encoder's max_length is their sum)"""
TEMPERATURE = 1.0
"""default softmax temperature of the distillation objectives (teacher.temperature)"""
STUDENT_WEIGHT = 0.3
"""default student weight w of the residual-listwise objective (teacher.student_weight)"""

_LAYERS = re.compile(r"^(all|\d+(-\d+)?(,\d+(-\d+)?)*)$")


class Strict(BaseModel):
    """Every spec section refuses unknown fields."""

    model_config = ConfigDict(extra="forbid")


def _check_targets(values: list[str]) -> list[str]:
    from rankscope.models.components import COMPONENTS, GROUPS

    bad = [v for v in values if v not in COMPONENTS and v not in GROUPS]
    if bad:
        raise ValueError(f"unknown component '{bad[0]}': expected one of {', '.join([*GROUPS, *COMPONENTS])}")
    if not values:
        raise ValueError("name at least one component")
    return values


def _check_layers(value: str) -> str:
    value = value.replace(" ", "")
    if not _LAYERS.match(value):
        raise ValueError(f"bad layer range '{value}': expected all, 5, 5-15 or 0-9,20-29")
    return value


def is_stored(info: ValidationInfo) -> bool:
    """Whether a run's stored spec is being read (`spec_from_dict(..., stored=True)`): names of datasets and
    objectives registered when it trained need not be registered to score, inspect or export it."""
    return bool(info.context and info.context.get("stored"))


def _check_dataset(name: str, info: ValidationInfo) -> str:
    from rankscope.data.registry import DATASETS

    if name not in DATASETS and not is_stored(info):
        raise ValueError(f"unknown dataset '{name}': expected one of {', '.join(DATASETS)}")
    return name


Targets = Annotated[list[str], AfterValidator(_check_targets)]
Layers = Annotated[
    str,
    BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v),  # layers: 7
    AfterValidator(_check_layers),
]
DatasetName = Annotated[str, AfterValidator(_check_dataset)]
