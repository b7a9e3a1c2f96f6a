"""Q-PEFT as training methods `qpeft-r` and `qpeft-a`: a small prompter in front of a frozen LLM.

The method brings its own scorer (a QPeftScorer whose prompter is `scorer.head`, so the trainer
optimises, checkpoints and reloads exactly that module) and its own reranker, which runs the prompter
on the pairs of each batch and scores mean log P(query | soft prompts, document) per pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch
from pydantic import Field
from torch import nn
from transformers import PreTrainedTokenizerBase

from rankscope.data.examples import Group
from rankscope.errors import InputError
from rankscope.methods.registry import MethodConfig, register_method
from rankscope.models.loading import hidden_size
from rankscope.scorers.base import Pair, model_device, unwrap
from rankscope.scorers.qpeft import QPeftScorer, build_prompter
from rankscope.scorers.trainable import QueryLikelihoodReranker

if TYPE_CHECKING:
    from rankscope.config import ExperimentSpec


class QPeftRMethod(MethodConfig):
    """Q-PEFT-R: the `k` document tokens most similar to the query become the soft prompts."""

    name: Literal["qpeft-r"] = "qpeft-r"
    k: int = Field(8, ge=1, description="soft prompt vectors per (query, document)")
    scorers: ClassVar[tuple[str, ...] | None] = ("query-likelihood",)


class QPeftAMethod(MethodConfig):
    """Q-PEFT-A: `k` query-conditioned seeds attend over all document tokens with `heads` heads."""

    name: Literal["qpeft-a"] = "qpeft-a"
    k: int = Field(8, ge=1, description="soft prompt vectors per (query, document)")
    heads: int = Field(4, ge=1, description="attention heads; must divide the model's hidden size")
    scorers: ClassVar[tuple[str, ...] | None] = ("query-likelihood",)


class QPeftReranker(QueryLikelihoodReranker):
    """Query likelihood with soft prompts: the batch also carries the pairs the prompter reads."""

    scorer: QPeftScorer

    def collate(self, groups: Sequence[Group]) -> dict[str, Any]:
        batch = super().collate(groups)
        batch["pairs"] = [Pair(g.query, d) for g in groups for d in g.docs]
        return batch

    def forward(  # type: ignore[override]
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        spans: torch.Tensor,
        group_size: int,
        pairs: list[Pair],
    ) -> torch.Tensor:
        spans_list = [(int(a), int(b)) for a, b in spans.tolist()]
        scores = self.scorer.token_logprobs_for(pairs, input_ids, attention_mask, spans_list)
        return scores.view(-1, group_size)


def qpeft_reranker(scorer: QPeftScorer, model: nn.Module, head: nn.Module | None = None) -> nn.Module:
    """The trainable module: the frozen model plus the prompter (`head`), scoring groups of pairs."""
    return QPeftReranker(scorer, model, head)


def qpeft_scorer(
    model: nn.Module, tokenizer: PreTrainedTokenizerBase, cfg: MethodConfig, spec: ExperimentSpec
) -> QPeftScorer:
    """A QPeftScorer over the frozen model, a fresh prompter as `scorer.head`, the spec's token budgets."""
    hidden = hidden_size(unwrap(model))
    heads = getattr(cfg, "heads", 4)
    if cfg.name == "qpeft-a" and hidden % heads:
        raise InputError(f"{heads} heads do not divide the hidden size {hidden}", "method.heads")
    prompter = build_prompter(cfg.name, hidden, getattr(cfg, "k", 8), heads).to(model_device(model))
    scorer = QPeftScorer(model, tokenizer, prompter, cfg.name)
    scorer.head = prompter  # type: ignore[attr-defined]  (what the trainer trains, saves and loads)
    for template in (scorer.prompt, scorer.target):
        template.max_tokens.update(query=spec.max_query_tokens, doc=spec.max_doc_tokens)
    return scorer


def freeze_all(model: nn.Module, cfg: MethodConfig) -> nn.Module:
    """Every LLM weight frozen: only the method's prompter trains."""
    return model.requires_grad_(False)


register_method("qpeft-r", QPeftRMethod, scorer=qpeft_scorer, reranker=qpeft_reranker)(freeze_all)
register_method("qpeft-a", QPeftAMethod, scorer=qpeft_scorer, reranker=qpeft_reranker)(freeze_all)
