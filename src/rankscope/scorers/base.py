"""The scorer interface and the batching shared by every scorer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from rankscope.errors import InputError


@dataclass(frozen=True)
class Pair:
    query: str
    doc: str


class Scorer(ABC):
    """Scores (query, document) pairs: higher means more relevant."""

    name: str = "scorer"
    joint_attention: ClassVar[bool] = True
    """query and document are read in one sequence, so document tokens can attend to the query (the
    attention inspection needs it; a bi-encoder, which encodes them apart, sets it False)."""

    @abstractmethod
    def score(self, pairs: Sequence[Pair], progress: Callable[[int], None] | None = None) -> list[float]:
        """One score per pair, in input order; `progress(n)` is called as pairs finish."""


def length_batches(lengths: Sequence[int], max_tokens: int, max_batch: int) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length (longest first), each padded size <= max_tokens."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batch: list[int] = []
    for i in order:
        width = lengths[batch[0]] if batch else lengths[i]
        if batch and ((len(batch) + 1) * width > max_tokens or len(batch) >= max_batch):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def pad_right(seqs: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids and attention mask (right padding: see the NaN trap in RESOURCES.md)."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        ids[row, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[row, : len(s)] = 1
    return ids.to(device), mask.to(device)


def unwrap(model: nn.Module) -> nn.Module:
    """The transformers model under a PEFT wrapper (LoRA layers stay injected in it)."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def decoder_body(model: nn.Module) -> nn.Module:
    """The transformer stack of a causal LM without its vocabulary head, so only needed logits are made."""
    inner = unwrap(model)
    body = getattr(inner, getattr(inner, "base_model_prefix", ""), None)  # Llama4: a prefix it does not use
    if body is None:
        body = getattr(inner, "model", None)
    if body is None or body is inner:
        raise InputError(f"cannot find the transformer stack of {type(inner).__name__}", "--model")
    return body


def last_token_hidden(body: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Final hidden state at each row's last real token (right padding)."""
    hidden = body(input_ids=ids, attention_mask=mask).last_hidden_state
    last = mask.sum(dim=1) - 1
    return hidden[torch.arange(ids.shape[0], device=ids.device), last]


def head_logits(model: nn.Module, hidden: torch.Tensor, token_ids: list[int]) -> torch.Tensor:
    """Logits of only `token_ids` from the LM head (with Gemma-style final soft-capping if configured)."""
    head = unwrap(model).get_output_embeddings()
    weight = head.weight[token_ids]
    with torch.autocast(hidden.device.type, enabled=False):  # a few rows: float32 costs nothing, and bf16
        logits = hidden.float() @ weight.float().T  # rounded the logits by up to 0.14 (ties, reorders)
        if getattr(head, "bias", None) is not None:
            logits = logits + head.bias[token_ids].float()
        return finish_logits(model, logits)


DIVIDE_BY_LOGITS_SCALING = frozenset(
    {"granite", "granitemoe", "granitemoeshared", "granitemoehybrid", "minicpm3"}
)
MULTIPLY_BY = {"cohere": "logit_scale", "cohere2": "logit_scale", "hyperclovax": "logits_scaling"}
"""model types whose forward scales the head's logits, and how (a config field alone says nothing: MPT
has a logit_scale it does not apply, HyperCLOVAX multiplies where Granite divides)"""


def finish_logits(model: nn.Module, logits: torch.Tensor) -> torch.Tensor:
    """What the model's own forward does to its head's output: Granite divides by `logits_scaling`, Cohere
    multiplies by `logit_scale`, Gemma soft-caps (`final_logit_softcapping`). Without it a scorer's
    probabilities were not the model's."""
    config = unwrap(model).config
    kind = getattr(config, "model_type", None)
    if kind in DIVIDE_BY_LOGITS_SCALING and getattr(config, "logits_scaling", None):
        logits = logits / config.logits_scaling
    if kind in MULTIPLY_BY and getattr(config, MULTIPLY_BY[kind], None):
        logits = logits * getattr(config, MULTIPLY_BY[kind])
    cap = getattr(config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


def float32_linear(linear: nn.Linear, hidden: torch.Tensor) -> torch.Tensor:
    """A one-output relevance head in float32 even under bf16 autocast (nn.Linear is an autocast op, so
    casting the input alone left the score on bf16's grid: 152 distinct scores for 400 dev pairs)."""
    with torch.autocast(hidden.device.type, enabled=False):
        return F.linear(hidden.float(), linear.weight.float(), linear.bias.float()).squeeze(-1)


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device
