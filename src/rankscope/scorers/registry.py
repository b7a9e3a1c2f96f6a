"""Scorers by name: one entry holds everything about a scorer (its class, the backbone kind it needs,
the kind of score it makes, its trainable reranker). Adding a scorer is one module plus
`register_scorer(ScorerEntry(...))`; the objectives it trains with follow from its score kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from torch import nn

from rankscope.errors import InputError
from rankscope.fields import DOC_TOKENS, KEEP_DEFAULT_SYSTEM, QUERY_TOKENS
from rankscope.scorers.base import Scorer

BackboneKind = Literal["causal", "encoder"]
ScoreKind = Literal["logit", "logprob", "ab", "similarity"]
"""What a score is: a logit (yes/no, heads), a mean token log-probability (query likelihood), an A-vs-B
logit (pairwise), a cosine (bi-encoder). Losses declare the kinds they accept."""


@dataclass(frozen=True)
class ScorerEntry:
    """Everything about one scorer. `build(model, tokenizer, head)` makes it over a loaded (possibly
    PEFT-wrapped) backbone, `head` None for a fresh one (token budgets are set on what it returns: its
    templates' `max_tokens`, an encoder's `max_length`); `reranker` is its trainable module class (None:
    not trainable); `zero_shot` is False where an untrained head makes the scores meaningless."""

    name: str
    kind: BackboneKind
    scores: ScoreKind
    build: Callable[..., Scorer]
    reranker: type[nn.Module] | None = None
    zero_shot: bool = True
    description: str = ""


SCORERS: dict[str, ScorerEntry] = {}


def register_scorer(entry: ScorerEntry) -> ScorerEntry:
    """Make `entry.name` usable everywhere a scorer is named: CLI, specs, training, the Python API."""
    SCORERS[entry.name] = entry
    return entry


def get_scorer(name: str, option: str = "--scorer") -> ScorerEntry:
    if name not in SCORERS:
        raise InputError(f"unknown scorer '{name}': expected one of {', '.join(SCORERS)}", option)
    return SCORERS[name]


def check_scorer(name: str) -> str:
    get_scorer(name)
    return name


def check_budgets(**budgets: int | None) -> None:
    """Token budgets (max_query_tokens=..., max_doc_tokens=...) are None (the default) or at least 1;
    InputError names the option otherwise."""
    for key, value in budgets.items():
        if value is not None and value < 1:
            raise InputError(f"a token budget is at least 1, got {value}", "--" + key.replace("_", "-"))


def build_scorer(
    name: str,
    model: nn.Module,
    tokenizer: Any,
    head: nn.Module | None = None,
    max_query_tokens: int | None = None,
    max_doc_tokens: int | None = None,
    system_prompt: str | None = None,
) -> Scorer:
    """The named scorer over a (possibly PEFT-wrapped) model; token budgets apply to its templates, and
    `system_prompt` (when given) to its chat prompts (InputError where it has none)."""
    check_budgets(max_query_tokens=max_query_tokens, max_doc_tokens=max_doc_tokens)
    scorer = get_scorer(name).build(model, tokenizer, head)
    set_system = getattr(scorer, "set_system_prompt", lambda _s: False)
    keep = system_prompt == KEEP_DEFAULT_SYSTEM  # a run stored before the field: whatever it had
    if system_prompt is not None and not set_system(system_prompt) and not keep:
        raise InputError(f"scorer '{name}' has no chat prompt to set a system prompt in", "system_prompt")
    budgets = {
        k: v
        for k, v in (("query", max_query_tokens), ("doc", max_doc_tokens), ("doc_b", max_doc_tokens))
        if v is not None
    }
    if budgets:
        for attr in ("template", "prompt", "target"):
            template = getattr(scorer, attr, None)
            if template is not None:
                template.max_tokens.update(budgets)
        if hasattr(scorer, "max_length"):  # an encoder: one length, the sum (a budget not given: its default)
            q, d = max_query_tokens or QUERY_TOKENS, max_doc_tokens or DOC_TOKENS
            limit = encoder_positions(model, tokenizer)
            if limit is not None and q + d > limit:
                raise InputError(
                    f"the token budgets add up to {q + d} ({q} for the query + {d} for the document), "
                    f"more than the model's {limit} positions",
                    "--max-doc-tokens" if max_doc_tokens else "--max-query-tokens",
                )
            scorer.max_length = q + d  # type: ignore[attr-defined]
    return scorer


def encoder_positions(model: nn.Module, tokenizer: Any) -> int | None:
    """How many tokens an encoder reads at most: its position table, or its tokenizer's model_max_length
    where that is smaller (RoBERTa's table holds 2 more rows than it can use); None when neither says."""
    config = getattr(model, "config", None)
    sizes = [getattr(config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    known = [n for n in sizes if isinstance(n, int) and 0 < n < 1_000_000]
    return min(known) if known else None


def build_for_backbone(name: str, backbone: Any, **options: Any) -> Scorer:
    """The scorer `name` over a loaded Backbone; a decoder scorer on an encoder (or vice versa) is refused."""
    entry = get_scorer(name)
    if (entry.kind == "encoder") != bool(backbone.is_encoder):
        need = "an encoder model" if entry.kind == "encoder" else "a causal LM"
        have = "an encoder" if backbone.is_encoder else "a decoder"
        raise InputError(f"scorer '{name}' needs {need}, but {backbone.name} is {have}", "--scorer")
    return build_scorer(name, backbone.model, backbone.tokenizer, **options)


def build_reranker(scorer_name: str, scorer: Scorer, model: nn.Module, seed: int = 0) -> nn.Module:
    """The trainable module of scorer `scorer_name`, training `scorer.head` if it has one."""
    entry = get_scorer(scorer_name, "scorer")
    if entry.reranker is None:
        raise InputError(f"scorer '{scorer_name}' cannot be trained", "scorer")
    return entry.reranker(scorer, model, getattr(scorer, "head", None), seed=seed)


def _register_builtins() -> None:
    from rankscope.scorers import trainable as t
    from rankscope.scorers.decoder import PairwiseScorer, QueryLikelihoodScorer, YesNoScorer
    from rankscope.scorers.encoder import BiEncoderScorer, CrossEncoderScorer
    from rankscope.scorers.linear_head import LinearHeadScorer

    for entry in (
        ScorerEntry(
            "yes-no",
            "causal",
            "logit",
            lambda m, t_, h=None: YesNoScorer(m, t_),
            t.DecoderPointReranker,
            description='logit of "yes" minus "no" after the chat template',
        ),
        ScorerEntry(
            "query-likelihood",
            "causal",
            "logprob",
            lambda m, t_, h=None: QueryLikelihoodScorer(m, t_),
            t.QueryLikelihoodReranker,
            description="mean log P(query | passage), UPR's prompt",
        ),
        ScorerEntry(
            "pairwise",
            "causal",
            "ab",
            lambda m, t_, h=None: PairwiseScorer(m, t_),
            t.PairwiseReranker,
            description='"Document A or B?", both orders, aggregated as duoT5 does',
        ),
        ScorerEntry(
            "linear-head",
            "causal",
            "logit",
            lambda m, t_, h=None: LinearHeadScorer(m, t_, head=h),
            t.DecoderPointReranker,
            zero_shot=False,
            description="linear head on the last token",
        ),
        ScorerEntry(
            "bi-encoder",
            "encoder",
            "similarity",
            lambda m, t_, h=None: BiEncoderScorer(m, t_),
            t.BiEncoderReranker,
            description="cosine of mean-pooled embeddings",
        ),
        ScorerEntry(
            "cross-encoder",
            "encoder",
            "logit",
            lambda m, t_, h=None: CrossEncoderScorer(m, t_, head=h),
            t.CrossEncoderReranker,
            zero_shot=False,
            description="encoder with a linear head on [CLS]",
        ),
    ):
        register_scorer(entry)


_register_builtins()
