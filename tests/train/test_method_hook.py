"""A method that brings its own scorer and trainable module (the way Q-PEFT plugs in) trains, saves and
loads through the registry hook alone."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest
import torch
from torch import nn

from rankscope.errors import InputError
from rankscope.methods import METHODS, register_method
from rankscope.methods.registry import METHOD_CONFIGS, MethodConfig
from rankscope.scorers.base import Pair
from rankscope.scorers.qpeft import QPeftScorer, build_prompter
from rankscope.scorers.trainable import QueryLikelihoodReranker
from rankscope.train.export import export
from rankscope.train.run import train
from rankscope.trained import load_run_scorer


class PromptMethod(MethodConfig):
    name: Literal["prompt-test"] = "prompt-test"
    k: int = 4
    scorers: ClassVar[tuple[str, ...] | None] = ("query-likelihood",)


class PromptReranker(QueryLikelihoodReranker):
    """Query likelihood with soft prompts: the batch also carries the pairs the prompter reads."""

    def collate(self, groups):
        batch = super().collate(groups)
        batch["pairs"] = [Pair(g.query, d) for g in groups for d in g.docs]
        return batch

    def forward(self, input_ids, attention_mask, spans, group_size, pairs) -> torch.Tensor:
        spans_list = [(int(a), int(b)) for a, b in spans.tolist()]
        return self.scorer.token_logprobs_for(pairs, input_ids, attention_mask, spans_list).view(
            -1, group_size
        )


def prompt_scorer(model: nn.Module, tokenizer: Any, cfg: PromptMethod, spec: Any) -> QPeftScorer:
    scorer = QPeftScorer(
        model, tokenizer, build_prompter("qpeft-r", model.config.hidden_size, cfg.k), "qpeft-r"
    )
    scorer.head = scorer.prompter
    return scorer


@pytest.fixture()
def prompt_method():
    register_method("prompt-test", PromptMethod, scorer=prompt_scorer, reranker=PromptReranker)(
        lambda model, cfg: model.requires_grad_(False)
    )
    yield
    METHODS.pop("prompt-test")
    METHOD_CONFIGS.pop("prompt-test")


def test_registered_method_with_its_own_scorer_trains_and_reloads(
    prompt_method, make_spec, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="works with scorer query-likelihood"):
        make_spec(method={"name": "prompt-test"})
    spec = make_spec(
        scorer="query-likelihood", objective=["ql-nll", "ranknet"], method={"name": "prompt-test"}
    )
    res = train(spec, tmp_path / "run")
    assert res.steps == 3 and (tmp_path / "run" / "adapter" / "head.safetensors").is_file()
    scorer, _ = load_run_scorer(tmp_path / "run")
    assert isinstance(scorer, QPeftScorer)
    pairs = [Pair("query cats sleep a lot 0", "passage: cats sleep a lot (0)")]
    values = [json.loads(x)["loss"] for x in (tmp_path / "run" / "loss.jsonl").read_text().splitlines()]
    assert all(math.isfinite(v) for v in values) and max(values) - min(values) > 1e-6
    assert res.metrics[-1]["dev_loss"] is not None and len(scorer.score(pairs)) == 1
    with pytest.raises(InputError, match="scores through its own module"):
        export(tmp_path / "run", tmp_path / "merged")
