"""Adapter ablation: switching LoRA off by layer and component is exact and always undone; the share of
the gain is 0 with every adapter off and 1 with none off; presets, windows and the JSON round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from rankscope.inspect.ablation import (
    Ablation,
    gain_share,
    load_ablation,
    lora_off,
    preset_ablations,
    run_ablation,
    save_ablation,
    window_ablations,
)
from rankscope.inspect.deltas import lora_layers
from rankscope.scorers.decoder import PairwiseScorer, YesNoScorer


def scalings(model) -> list[float]:
    return [m.scaling["default"] for _, m in lora_layers(model)]


def test_lora_off_selects_and_always_restores(lora_factory, tokenizer, pairs) -> None:
    model = lora_factory(n_layers=3)  # q, v, up, down in each of 3 layers
    before = scalings(model)
    with lora_off(model, layers="1-2", components=["mlp"]) as n:
        assert n == 4 and scalings(model).count(0.0) == 4
    with lora_off(model, components=["attn.v"]) as n:
        assert n == 3
    assert scalings(model) == before
    with pytest.raises(RuntimeError), lora_off(model):
        assert set(scalings(model)) == {0.0}
        raise RuntimeError("fails inside")
    assert scalings(model) == before
    scorer = YesNoScorer(model, tokenizer)
    with lora_off(model):
        off = scorer.score(pairs[0])
    with model.disable_adapter():
        base = scorer.score(pairs[0])
    assert off == base  # scaling 0 adds exactly nothing


def test_share_is_zero_with_all_off_and_one_with_none(
    lora_factory, tokenizer, dev_set, tmp_path: Path
) -> None:
    cands, queries, qrels = dev_set
    scorer = YesNoScorer(lora_factory(n_layers=4, std=0.5), tokenizer)
    ablations = [
        Ablation("all off"),
        Ablation("none off", off_layers=()),
        *preset_ablations(),
        *window_ablations(4, sizes=[1, 2], stride=1),
    ]
    res = run_ablation(scorer, cands, queries, qrels, ablations, measures=["nDCG@10", "RR@10"], depth=6)
    assert res.finetuned["nDCG@10"] != res.zero_shot["nDCG@10"]  # the adapter changes the ranking
    assert res.share("all off") == 0.0 and res.share("none off") == 1.0
    assert set(res.runs) == {"zero-shot", "fine-tuned", *(r.name for r in res.rows)}  # skipped: no run
    assert next(r for r in res.rows if r.name == "all off").metrics == res.zero_shot
    assert set(res.skipped) == {"gate-only", "k-only", "o-only"}  # no such adapters in this model
    names = [r.name for r in res.rows]
    assert {"attention-only", "mlp-only", "up-only", "down-only", "q-only", "v-only"} <= set(names)
    assert res.modules == 16 and res.n_layers == 4
    sweep = res.windows
    assert sweep is not None and sweep.sizes == [1, 2] and sweep.starts == [0, 1, 2, 3]
    assert sweep.share[1][3] is None and all(v is not None for v in sweep.share[0])
    back = load_ablation(save_ablation(res, tmp_path / "ablation.json"))
    assert back == res


def test_pairwise_ablation_runs(lora_factory, tokenizer, dev_set) -> None:
    cands, queries, qrels = dev_set
    scorer = PairwiseScorer(lora_factory(n_layers=2, std=0.5), tokenizer)
    res = run_ablation(scorer, cands, queries, qrels, [Ablation("all off")], depth=4, pairwise_top=3)
    assert res.rows[0].metrics == res.zero_shot


def test_gain_share_and_windows() -> None:
    assert gain_share(0.5, 0.3, 0.7) == pytest.approx(0.5)
    assert gain_share(0.4, 0.4, 0.4) is None
    wins = window_ablations(6, sizes=[2], stride=2)
    assert [w.window for w in wins] == [(2, 0), (2, 2), (2, 4)]
    assert wins[1].off_layers == (0, 1, 4, 5)
    drop = window_ablations(6, sizes=[3], stride=3, mode="drop")
    assert drop[0].off_layers == (0, 1, 2)
