"""Adapter ablation: switching LoRA off by layer and component is exact and always undone; the share of
the gain is 0 with every adapter off and 1 with none off; presets, windows and the JSON round trip. The
same for a full fine-tune, whose trained weights are put back to the base model's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rankscope.errors import InputError
from rankscope.evaluate.metrics import evaluate
from rankscope.evaluate.rerank import rerank, scoring_units
from rankscope.inspect.ablation import (
    Ablation,
    gain_share,
    load_ablation,
    lora_off,
    preset_ablations,
    run_ablation,
    save_ablation,
    trained_weights,
    weights_off,
    window_ablations,
)
from rankscope.inspect.deltas import lora_layers
from rankscope.scorers.decoder import PairwiseScorer, YesNoScorer
from rankscope.testing import tiny_llama


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
    ticks: list[tuple[int, int]] = []
    res = run_ablation(
        scorer,
        cands,
        queries,
        qrels,
        ablations,
        measures=["nDCG@10", "RR@10"],
        depth=6,
        on_ablation=lambda done, total: ticks.append((done, total)),
    )
    # progress in pairs scored over every reranking (fine-tuned, zero-shot, each ablation; a skipped one at
    # once): from 0 to the total, never backwards, at least once per reranking
    total = (len(ablations) + 2) * scoring_units(cands, 6)
    assert ticks[0] == (0, total) and ticks[-1] == (total, total)
    assert all(t == total for _, t in ticks)
    assert all(a <= b for (a, _), (b, _) in zip(ticks, ticks[1:], strict=False))
    assert len(ticks) >= len(ablations) + 3
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
    # the gain's paired test is compare's, on the same two runs
    from rankscope.evaluate.compare import compare

    c = compare([res.runs["zero-shot"], res.runs["fine-tuned"]], qrels, ["nDCG@10"]).comparisons[0]
    assert res.gain_queries == len(qrels) and res.gain_p == pytest.approx(c.p_value)


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
    # SmolLM2's 30 layers, the default window 5 with stride 2: the last start was 24, layer 29 never kept
    starts = [w.window[1] for w in window_ablations(30, sizes=[5], stride=2)]  # type: ignore[index]
    assert starts[-2:] == [24, 25] and starts[:3] == [0, 2, 4]
    quick = window_ablations(22, sizes=[4], stride=4)  # TinyLlama, --quick: layers 20-21 were left out
    assert [w.window[1] for w in quick] == [0, 4, 8, 12, 16, 18]  # type: ignore[index]
    assert set().union(*(set(range(s, s + 4)) for s in [0, 4, 8, 12, 16, 18])) == set(range(22))


def full_pair(tokenizer, n_layers: int = 3, std: float = 0.05):
    """A tiny base Llama and a copy whose MLP weights (and layer 0's attn.q) moved: a full fine-tune."""
    base = tiny_llama(len(tokenizer), n_layers).eval()
    tuned = tiny_llama(len(tokenizer), n_layers).eval()
    tuned.load_state_dict(base.state_dict())
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in tuned.named_parameters():
            if ".mlp." in name or name.endswith("layers.0.self_attn.q_proj.weight"):
                p.add_(torch.randn(p.shape, generator=gen) * std)
    return base, tuned


def test_weights_off_selects_and_always_restores(tokenizer, pairs) -> None:
    base, tuned = full_pair(tokenizer)
    trained = trained_weights(tuned, base)
    assert len(trained) == 3 * 3 + 1  # gate/up/down in 3 layers, attn.q in layer 0; the rest untouched
    before = {k: v.clone() for k, v in tuned.state_dict().items()}
    with weights_off(tuned, base, layers="1-2", components=["mlp.up"]) as n:
        assert n == 2
        assert torch.equal(
            tuned.get_parameter("model.layers.1.mlp.up_proj.weight"),
            base.get_parameter("model.layers.1.mlp.up_proj.weight"),
        )
    with pytest.raises(RuntimeError), weights_off(tuned, base) as n:
        assert n == len(trained)
        raise RuntimeError("fails inside")
    assert all(torch.equal(v, tuned.state_dict()[k]) for k, v in before.items())
    scorer, plain = YesNoScorer(tuned, tokenizer), YesNoScorer(base, tokenizer)
    with weights_off(tuned, base):
        assert scorer.score(pairs[0]) == plain.score(pairs[0])  # every trained weight back: the base model
    assert scorer.score(pairs[0]) != plain.score(pairs[0])


def test_full_weight_ablation_shares(tokenizer, dev_set, tmp_path: Path) -> None:
    cands, queries, qrels = dev_set
    base, tuned = full_pair(tokenizer, n_layers=4, std=0.5)
    ablations = [Ablation("all off"), Ablation("none off", off_layers=()), *preset_ablations()]
    scorer = YesNoScorer(tuned, tokenizer)
    res = run_ablation(scorer, cands, queries, qrels, ablations, ["nDCG@10", "RR@10"], depth=6, base=base)
    assert res.updates == "weight updates" and res.modules == 4 * 3 + 1
    assert res.finetuned["nDCG@10"] != res.zero_shot["nDCG@10"]
    assert res.share("all off") == 0.0 and res.share("none off") == 1.0
    assert res.zero_shot == evaluate(
        rerank(YesNoScorer(base, tokenizer), cands, queries, 6), qrels, ["nDCG@10", "RR@10"]
    )
    assert set(res.skipped) == {"k-only", "v-only", "o-only"}  # never trained
    assert res.skipped["k-only"] == "keeps no trained weight"
    assert {"attention-only", "mlp-only", "q-only"} <= {r.name for r in res.rows}
    assert load_ablation(save_ablation(res, tmp_path / "ablation.json")) == res
    with pytest.raises(InputError, match="equal the base model's"):
        run_ablation(YesNoScorer(base, tokenizer), cands, queries, qrels, ablations, base=base)


def test_selection_overlap_follows_what_chose_the_best(tmp_path) -> None:
    """RUN/best chosen by dev_loss on held-out training groups chose nothing on a dev dataset's queries; by a
    dev measure it chose on every one of them."""
    import json
    from types import SimpleNamespace as NS

    from rankscope.inspect.run import selection_overlap

    for d in ("best", "adapter", "checkpoints/checkpoint-4"):
        (tmp_path / d).mkdir(parents=True)
    dev = NS(candidates=NS(hits={f"q{i}": [] for i in range(43)}))
    opts = NS(checkpoint=None, max_queries=None)

    def overlap(measure: str, dataset: str | None) -> tuple[int, str | None]:
        best = dict(step=4, measure=measure, value=0.3, folder="", source="checkpoints/checkpoint-4")
        (tmp_path / "best" / "best.json").write_text(json.dumps(best))
        rs = NS(adapter=tmp_path / "best", spec=NS(dev=NS(max_queries=None, dataset=dataset)))
        return selection_overlap(tmp_path, rs, dev, opts)  # type: ignore[arg-type]

    assert overlap("dev_loss", "dl19") == (0, None)  # "chosen by its dev dev_loss on 43 of these 43" before
    assert overlap("dev_loss", None) == (43, "dev_loss")  # the dev set is those held-out groups' queries
    assert overlap("nDCG@10", "dl19") == (43, "nDCG@10")
