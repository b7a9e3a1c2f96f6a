"""A new scorer and a new objective are one class each plus their registration, from this file alone:
the spec accepts them, training trains them, and the Python API and CLI score with them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from rankscope import Reranker
from rankscope.errors import InputError
from rankscope.scorers.base import decoder_body, head_logits, last_token_hidden
from rankscope.scorers.decoder import YesNoScorer
from rankscope.scorers.registry import SCORERS, ScorerEntry, get_scorer, register_scorer
from rankscope.scorers.trainable import DecoderPointReranker
from rankscope.train.losses import LOSSES, Loss, register_loss


class YesOnlyScorer(YesNoScorer):
    """The log-probability-free logit of "yes" alone (no "no" term)."""

    name = "yes-only"

    def logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = last_token_hidden(decoder_body(self.model), ids, mask)
        return torch.logsumexp(head_logits(self.model, hidden, self.yes), dim=1)


class SquaredHinge(Loss):
    """max(0, 1 - (s_pos - s_neg))^2 over each group's negatives."""

    accepts = frozenset({"logit"})

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.relu(1.0 - (scores[:, :1] - scores[:, 1:])).pow(2).mean()


@pytest.fixture()
def registered() -> Iterator[None]:
    register_scorer(
        ScorerEntry(
            "yes-only", "causal", "logit", lambda m, t, h=None: YesOnlyScorer(m, t), DecoderPointReranker
        )
    )
    register_loss("squared-hinge")(SquaredHinge)
    yield
    SCORERS.pop("yes-only")
    LOSSES.pop("squared-hinge")


def test_a_new_scorer_and_objective_train_and_score(registered, make_spec, tmp_path: Path, llama_dir) -> None:
    from rankscope.train.run import train

    spec = make_spec(scorer="yes-only", objective="squared-hinge", optim={"steps": 2, "batch_size": 2})
    result = train(spec, tmp_path / "run")
    assert result.steps == 2 and result.metrics
    trained = result.reranker(device="cpu", dtype="float32")
    assert isinstance(trained.scorer, YesOnlyScorer)
    zero_shot = Reranker.load(llama_dir, scorer="yes-only", device="cpu", dtype="float32")
    docs = ["cats sleep a lot", "trains run on rails"]
    assert trained.score("do cats sleep", docs) != zero_shot.score("do cats sleep", docs)


def test_objectives_follow_the_score_kind(registered, make_spec) -> None:
    from rankscope.config import objectives_for

    assert "squared-hinge" in objectives_for("yes-only") and "squared-hinge" not in objectives_for(
        "query-likelihood"
    )
    with pytest.raises(InputError, match="does not fit scorer 'query-likelihood'"):
        make_spec(scorer="query-likelihood", objective="squared-hinge")


def test_unknown_scorer_lists_the_registered_ones() -> None:
    with pytest.raises(InputError, match="unknown scorer 'nope'.*yes-no.*query-likelihood"):
        get_scorer("nope")
