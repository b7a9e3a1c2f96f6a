"""`export` merges the adapter into a standalone model folder that scores the same as the adapter."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from rankscope.errors import InputError
from rankscope.scorers.base import Pair
from rankscope.train.export import export
from rankscope.train.run import train
from rankscope.trained import load_exported_scorer, load_run_scorer

PAIRS = [
    Pair("query fleas live a year 0", "passage: fleas live a year (0)"),
    Pair("query goldfish grow in tanks 1", "passage: dogs bark loudly (1)"),
    Pair("do cats sleep", "passage: cats sleep a lot (0)"),
]


@pytest.mark.parametrize(
    ("scorer", "method"),
    [
        ("yes-no", {"name": "lora", "rank": 4, "alpha": 8}),
        ("linear-head", {"name": "lora", "rank": 4, "targets": ["mlp"], "layers": "1"}),
        ("query-likelihood", {"name": "freeze", "layers": "1", "targets": ["attn.v"], "full_weights": True}),
    ],
)
def test_export_scores_like_the_adapter(make_spec, tmp_path: Path, scorer: str, method: dict) -> None:
    objective = "ql-nll" if scorer == "query-likelihood" else "listwise"
    run = tmp_path / "run"
    train(make_spec(scorer=scorer, objective=objective, method=method), run)
    trained, _ = load_run_scorer(run)
    before = trained.score(PAIRS)
    out = export(run, tmp_path / "merged")
    assert (out / "config.json").is_file() and (out / "rankscope.json").is_file()
    assert not (out / "adapter_config.json").exists()  # a plain model folder, no PEFT left
    if scorer != "cross-encoder":
        AutoModelForCausalLM.from_pretrained(out)  # loads with plain transformers
    assert "library_name: transformers" in (out / "README.md").read_text()
    after = load_exported_scorer(out).score(PAIRS)
    assert max(abs(a - b) for a, b in zip(before, after, strict=True)) < 1e-4
    base = load_run_scorer(run, adapter=run / "checkpoints" / "checkpoint-3")[0].score(PAIRS)
    assert max(abs(a - b) for a, b in zip(before, base, strict=True)) < 1e-6  # final == last checkpoint


def test_adapter_is_plain_peft_format(make_spec, tmp_path: Path, llama_dir: Path) -> None:
    run = tmp_path / "run"
    train(make_spec(), run)
    base = AutoModelForCausalLM.from_pretrained(llama_dir)
    model = PeftModel.from_pretrained(base, str(run / "adapter"))
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)  # trained, not the zero init
    # the PEFT-loaded adapter scores exactly as rankscope's own loading of the run
    from transformers import AutoTokenizer

    from rankscope import Reranker
    from rankscope.scorers.registry import build_scorer

    peft_scores = build_scorer("yes-no", model.eval(), AutoTokenizer.from_pretrained(llama_dir)).score(PAIRS)
    ours = Reranker.from_run(run, device="cpu", dtype="float32").scorer.score(PAIRS)
    assert peft_scores == pytest.approx(ours, abs=1e-6)
    card = (run / "adapter" / "README.md").read_text()
    assert f"base_model: {llama_dir}" in card and "## Dev metrics per checkpoint" in card
    assert "listwise" in card and "PeftModelForCausalLM.from_pretrained" in card and "triples.tsv" in card
    assert f"- environment from step 0: python {platform.python_version()}, torch {torch.__version__}" in card
    with pytest.raises(InputError, match="would replace or lie inside the input"):
        export(run, run)
    with pytest.raises(InputError, match="no spec.yaml"):
        export(tmp_path, tmp_path / "x")


def test_the_cards_snippet_loads_the_folder_it_sits_in(make_spec, tmp_path: Path, monkeypatch) -> None:
    run = tmp_path / "run"
    train(make_spec(), run)
    card = (run / "best" / "README.md").read_text()
    code = card.split("```python\n")[1].split("```")[0]
    monkeypatch.chdir(run / "best")  # it read "adapter" from wherever it was run: the final adapter, or none
    scope: dict = {}
    exec(code, scope)
    assert isinstance(scope["model"], PeftModel) and scope["model"].peft_config
    assert 'AutoPeftModelForCausalLM.from_pretrained(".")' in code  # not spec.model: an alias is no Hub id
    full = tmp_path / "full"
    train(make_spec(method={"name": "freeze", "layers": "1", "targets": ["mlp.up"]}), full)
    card = (full / "adapter" / "README.md").read_text()
    assert "PeftModel" not in card and "not a PEFT adapter" in card  # the PEFT snippet failed there
    assert f'Reranker.from_run("{full}")' in card and "library_name: rankscope" in card


def test_the_system_prompt_travels_with_the_run_and_the_export(make_spec, tmp_path: Path) -> None:
    import json

    from rankscope.fields import KEEP_DEFAULT_SYSTEM

    run = tmp_path / "run"
    train(make_spec(system_prompt="Judge relevance."), run)
    trained, spec = load_run_scorer(run)
    assert spec.system_prompt == "Judge relevance." == trained.template.system  # type: ignore[attr-defined]
    out = export(run, tmp_path / "merged")
    info = json.loads((out / "rankscope.json").read_text())
    assert info["system_prompt"] == "Judge relevance."
    assert load_exported_scorer(out).template.system == "Judge relevance."  # type: ignore[attr-defined]
    from rankscope.reranker import Reranker

    given = Reranker.load(out, scorer=spec.scorer, device="cpu", max_doc_tokens=4, system_prompt="Other.")
    assert given.scorer.template.max_tokens["doc"] == 4  # type: ignore[attr-defined]  (ignored before)
    assert given.scorer.template.system == "Other."  # type: ignore[attr-defined]
    kept = Reranker.load(out, scorer=spec.scorer, device="cpu").scorer
    assert kept.template.max_tokens["doc"] == spec.max_doc_tokens  # type: ignore[attr-defined]
    assert kept.template.system == "Judge relevance."  # type: ignore[attr-defined]
    del info["system_prompt"]  # an export written before the key: the template's default, as then
    (out / "rankscope.json").write_text(json.dumps(info))
    assert load_exported_scorer(out).template.system == KEEP_DEFAULT_SYSTEM  # type: ignore[attr-defined]


def test_a_cross_encoder_export_loads_with_its_head_in_bf16_too(
    make_spec, tmp_path: Path, bert_dir: Path
) -> None:
    from rankscope.reranker import Reranker

    run = tmp_path / "run"
    train(make_spec(model=str(bert_dir), scorer="cross-encoder", objective="listwise"), run)
    for inside in (run, run / "adapter"):  # --overwrite would delete the run being exported
        with pytest.raises(InputError, match="would replace or lie inside the input"):
            export(run, inside, overwrite=True)
    assert (run / "adapter").is_dir() and (run / "spec.yaml").is_file()
    out = export(run, tmp_path / "merged")
    query, docs = PAIRS[0].query, [p.doc for p in PAIRS]
    want = load_exported_scorer(out).score([Pair(query, d) for d in docs])
    got = Reranker.load(str(out), "cross-encoder", dtype="float32").score(query, docs)
    assert got == pytest.approx(want, abs=1e-5)  # the trained head, not a new random one
    half = Reranker.load(str(out), "cross-encoder", dtype="bfloat16").score(query, docs)  # crashed before
    assert half == pytest.approx(want, abs=0.1)
    assert Reranker.from_run(run, dtype="bfloat16").score(query, docs) == pytest.approx(want, abs=0.1)
    with pytest.raises(InputError, match="is an export of a 'cross-encoder' reranker, not 'bi-encoder'"):
        Reranker.load(str(out), "bi-encoder")
    own = Reranker.load(str(out), dtype="float32")  # no scorer named: the export's own (was query likelihood)
    assert own.scorer_name == "cross-encoder" and own.score(query, docs) == pytest.approx(want, abs=1e-5)
    with pytest.raises(InputError, match="--scorer: scorer 'cross-encoder' scores with a trained head"):
        Reranker.load(str(bert_dir), "cross-encoder")  # a zero-shot model: its head would be random


def test_trust_remote_code_reaches_an_exports_loading(make_spec, tmp_path: Path, monkeypatch) -> None:
    import json

    import rankscope.trained as trained
    from rankscope.reranker import Reranker

    run = tmp_path / "run"
    train(make_spec(), run)
    out = export(run, tmp_path / "merged")
    assert json.loads((out / "rankscope.json").read_text())["trust_remote_code"] is False
    seen: list[bool] = []
    real = trained.load_backbone
    monkeypatch.setattr(
        trained, "load_backbone", lambda *a, **k: seen.append(k["trust_remote_code"]) or real(*a, **k)
    )
    Reranker.load(out, scorer="yes-no", device="cpu", trust_remote_code=True)  # the flag was dropped
    Reranker.from_export(out, device="cpu")
    assert seen == [True, False]


def test_the_cards_snippet_names_a_hub_base_by_its_id() -> None:
    """A Hub base keeps its portable id (adapter_config.json records this machine's cache folder); an
    alias or a local folder loads on the folder the adapter records."""
    from rankscope.train.card import _peft_snippet, is_hub_id

    assert is_hub_id("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert not any(is_hub_id(m) for m in ("smollm2-135m", "/abs/model", "./rel", "model.gguf"))
    hub = "\n".join(_peft_snippet("acme/tiny-llama", "AutoModelForCausalLM", "AutoPeftModelForCausalLM"))
    assert (
        'AutoModelForCausalLM.from_pretrained("acme/tiny-llama")' in hub
        and "PeftModel.from_pretrained" in hub
    )
    alias = "\n".join(_peft_snippet("minilm-l6", "AutoModel", "AutoPeftModel"))
    assert 'AutoPeftModel.from_pretrained(".")' in alias and "minilm-l6" not in alias
