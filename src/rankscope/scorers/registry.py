"""Scorers by name, each checked against the kind of backbone it needs."""

from __future__ import annotations

from rankscope.errors import InputError
from rankscope.models.loading import Backbone
from rankscope.scorers.base import Scorer
from rankscope.scorers.decoder import PairwiseScorer, QueryLikelihoodScorer, YesNoScorer
from rankscope.scorers.encoder import BiEncoderScorer, CrossEncoderScorer

DECODER_SCORERS = {
    "yes-no": YesNoScorer,
    "query-likelihood": QueryLikelihoodScorer,
    "pairwise": PairwiseScorer,
}
ENCODER_SCORERS = {"bi-encoder": BiEncoderScorer, "cross-encoder": CrossEncoderScorer}
SCORERS = (*DECODER_SCORERS, *ENCODER_SCORERS)


def check_scorer(name: str) -> str:
    if name not in SCORERS:
        raise InputError(f"unknown scorer '{name}': expected one of {', '.join(SCORERS)}", "--scorer")
    return name


def build_scorer(name: str, backbone: Backbone, **kwargs: int) -> Scorer:
    """The scorer `name` over `backbone`; a decoder scorer on an encoder (or vice versa) is refused."""
    check_scorer(name)
    if name in DECODER_SCORERS:
        if backbone.is_encoder:
            raise InputError(
                f"scorer '{name}' needs a causal LM, but {backbone.name} is an encoder", "--scorer"
            )
        return DECODER_SCORERS[name](backbone.model, backbone.tokenizer, **kwargs)
    if not backbone.is_encoder:
        raise InputError(
            f"scorer '{name}' needs an encoder model, but {backbone.name} is a decoder", "--scorer"
        )
    return ENCODER_SCORERS[name](backbone.model, backbone.tokenizer, **kwargs)
