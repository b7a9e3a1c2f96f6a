"""Q-PEFT as training methods: only the prompter trains in front of the frozen tiny Llama, a run saves it
and the run folder scores pairs again exactly as the trained module did; the `qpeft` objective."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from rankscope.config import ExperimentSpec, spec_from_dict
from rankscope.errors import InputError
from rankscope.scorers.base import Pair
from rankscope.scorers.qpeft import AttentionPrompt, QPeftScorer, TopKPrompt
from rankscope.scorers.trainable import TrainableReranker as Reranker
from rankscope.train import run
from rankscope.train.losses import QPeftLoss, build_loss
from rankscope.trained import load_run_scorer

TOPICS = ["fleas live a year", "goldfish grow in tanks", "wifi has a long range", "cats sleep a lot"]
VARIANTS = {
    "qpeft-r": ({"name": "qpeft-r", "k": 3}, TopKPrompt),
    "qpeft-a": ({"name": "qpeft-a", "k": 3, "heads": 4}, AttentionPrompt),
}
PAIRS = [
    Pair("query cats sleep a lot 0", "passage: cats sleep a lot (0)"),
    Pair("wifi range", "goldfish grow"),
]


@pytest.fixture()
def make_spec(llama_dir: Path, tmp_path: Path):
    triples = tmp_path / "triples.tsv"
    rows = [
        f"query {t} {j}\tpassage: {t} ({j})\tpassage: {TOPICS[(i + 1) % len(TOPICS)]} ({j})"
        for i, t in enumerate(TOPICS)
        for j in range(2)
    ]
    triples.write_text("\n".join(rows) + "\n")

    def build(**over: Any) -> ExperimentSpec:
        data: dict[str, Any] = {
            "model": str(llama_dir),
            "scorer": "query-likelihood",
            "objective": "qpeft",
            "method": {"name": "qpeft-r", "k": 3},
            "train": {"files": [str(triples)], "group_size": 2, "dev_fraction": 0.25, "seed": 0},
            "dev": {"depth": 4, "at_start": False},
            "optim": {"steps": 3, "batch_size": 2, "lr": 0.02, "save_every": 2, "bf16": False, "seed": 0},
            "eval_sets": [],
            "device": "cpu",
        }
        return spec_from_dict({**data, **over})

    return build


@pytest.mark.parametrize("variant", VARIANTS)
def test_only_the_prompter_is_trainable(make_spec, variant: str) -> None:
    method, cls = VARIANTS[variant]
    _, reranker = run.build_reranker_for(make_spec(method=method), "cpu", False)
    assert isinstance(reranker.scorer, QPeftScorer) and isinstance(reranker.head, cls)
    assert reranker.scorer.head is reranker.head and reranker.scorer.prompter is reranker.head
    trainable = [n for n, p in reranker.named_parameters() if p.requires_grad]
    assert trainable and all(n.startswith("head.") for n in trainable)
    assert not any(p.requires_grad for p in reranker.model.parameters())


@pytest.mark.parametrize("variant", VARIANTS)
def test_trains_saves_and_scores_again(
    make_spec, llama_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: str
) -> None:
    built: list[tuple[Reranker, dict[str, torch.Tensor]]] = []
    original = run.build_reranker_for

    def keep(*args: Any, **kw: Any) -> Any:
        bb, reranker = original(*args, **kw)
        built.append((reranker, {k: v.clone() for k, v in reranker.head.state_dict().items()}))
        return bb, reranker

    monkeypatch.setattr(run, "build_reranker_for", keep)
    out = tmp_path / "run"
    res = run.train(make_spec(method=VARIANTS[variant][0]), out)
    assert res.steps == 3 and res.stopped_at is None
    values = [json.loads(line)["loss"] for line in (out / "loss.jsonl").read_text().splitlines()]
    assert len(values) == 3 and all(math.isfinite(v) for v in values)

    reranker, start = built[0]
    after = reranker.head.state_dict()
    assert any(not torch.equal(start[k], after[k]) for k in start)  # the prompter learned
    base = load_file(str(llama_dir / "model.safetensors"))
    llm = reranker.model.state_dict()
    assert all(torch.equal(llm[k], v) for k, v in base.items())  # the LLM did not

    for folder in (out / "adapter", out / "checkpoints" / "checkpoint-2"):
        assert (folder / "head.safetensors").is_file()
    reranker.eval()
    expected = reranker.scorer.score(PAIRS)
    scorer, spec = load_run_scorer(out, "final")  # the final state (by default: the best checkpoint)
    assert isinstance(scorer, QPeftScorer) and scorer.variant == variant == spec.method.name
    assert torch.allclose(torch.tensor(scorer.score(PAIRS)), torch.tensor(expected), atol=1e-5)


def test_spec_refuses_what_does_not_fit(make_spec) -> None:
    with pytest.raises(
        InputError, match="method: 'qpeft-r' works with scorer query-likelihood, not 'yes-no'"
    ):
        make_spec(scorer="yes-no", objective="listwise")
    with pytest.raises(InputError, match="objective: 'qpeft' does not fit scorer 'yes-no'"):
        make_spec(scorer="yes-no", method={"name": "lora"})
    with pytest.raises(InputError, match="'qpeft' needs negatives"):
        make_spec(train={"files": make_spec().train.files, "group_size": 1})
    with pytest.raises(InputError, match="method.heads"):
        make_spec(method={"name": "qpeft-r", "heads": 4})  # only qpeft-a has heads
    with pytest.raises(InputError, match="method.heads"):
        run.build_reranker_for(make_spec(method={"name": "qpeft-a", "heads": 3}), "cpu", False)


def test_qpeft_loss_prefers_the_right_order_and_raises_the_positive() -> None:
    labels = torch.tensor([[1.0, 0.0, 0.0]])
    right = torch.tensor([[-1.0, -3.0, -4.0]], requires_grad=True)
    wrong = torch.tensor([[-4.0, -3.0, -1.0]])
    loss = build_loss([("qpeft", 1.0)])
    assert isinstance(loss, QPeftLoss)
    value = loss(right, labels)
    ranknet = (
        torch.nn.functional.softplus(torch.tensor(-2.0)) + torch.nn.functional.softplus(torch.tensor(-3.0))
    ) / 2
    assert torch.isclose(value, 1.0 + ranknet)  # -s_pos + mean RankNet over (pos, neg) pairs
    assert value < loss(wrong, labels)
    value.backward()
    assert right.grad[0, 0] < 0 and (right.grad[0, 1:] > 0).all()  # descent raises the positive


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_prompter_sits_on_the_models_device(variant: str, make_spec, llama, tokenizer) -> None:
    import copy

    from rankscope.methods.qpeft import qpeft_scorer

    spec = make_spec(method=VARIANTS[variant][0])
    model = copy.deepcopy(llama).to(
        "meta"
    )  # stands in for a GPU: a reloaded run's prompter stayed on the CPU
    scorer = qpeft_scorer(model, tokenizer, spec.method, spec)
    assert {p.device.type for p in scorer.head.parameters()} == {"meta"}
