"""Loading a trained run back: another token budget keeps the run's own method, whatever its fields."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rankscope.errors import InputError
from rankscope.reranker import Reranker
from rankscope.scorers.base import Pair
from rankscope.train.run import train
from rankscope.trained import load_run_scorer

PAIRS = [Pair("query fleas live a year 0", "passage: fleas live a year (0) and more words here")]


def test_a_budget_keeps_the_method_of_a_full_weight_run(make_spec, tmp_path: Path) -> None:
    """A freeze run of one layer's attn.v: with --max-doc-tokens the spec's method stays that (not the
    defaults, which would unfreeze every layer and find no trained weights for them)."""
    method = {"name": "freeze", "layers": "1", "targets": ["attn.v"], "full_weights": True}
    run = tmp_path / "run"
    train(make_spec(scorer="linear-head", method=method), run)
    scorer, spec = load_run_scorer(run, max_doc_tokens=3)
    assert spec.max_doc_tokens == 3
    assert spec.method.model_dump(mode="json") == {**spec.method.model_dump(mode="json"), **method}
    assert spec.dump()["method"]["targets"] == ["attn.v"]
    assert len(scorer.score(PAIRS)) == 1


def test_a_damaged_run_is_one_line_naming_the_file(make_spec, tmp_path: Path) -> None:
    from rankscope.train.export import export

    run = tmp_path / "run"
    train(make_spec(), run)
    weights = run / "best" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:40])  # cut off
    for call in (lambda: Reranker.from_run(run), lambda: export(run, tmp_path / "x")):
        with pytest.raises(InputError, match="adapter_model.safetensors: damaged weights file"):
            call()
    (run / "spec.yaml").write_text("model: [\n")
    with pytest.raises(InputError, match=r"spec.yaml:2: invalid YAML"):
        Reranker.from_run(run)
    with pytest.raises(InputError, match=r"spec.yaml:2: invalid YAML"):
        train(None, run, resume=True)


def test_a_run_trained_with_custom_names_loads_without_them(make_spec, tmp_path: Path) -> None:
    from rankscope.config import read_yaml, spec_from_dict

    run = tmp_path / "run"
    train(make_spec(), run)
    data = read_yaml(run / "spec.yaml")  # as if trained on a registered dataset with a registered loss
    data["objective"], data["train"]["datasets"] = "sq-hinge", ["mine"]
    data["teacher"] = {"scorers": [{"model": data["model"], "scorer": "my-teacher"}]}
    (run / "spec.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match="unknown objective 'sq-hinge'"):
        spec_from_dict(data)  # a spec to train from still needs them
    scorer, spec = load_run_scorer(run)  # scoring needs neither: refused before
    assert spec.train.datasets == ["mine"] and len(scorer.score([Pair("q", "d")])) == 1
    scorer, spec = load_run_scorer(run, max_doc_tokens=16)  # another budget: validated again
    assert spec.max_doc_tokens == 16 and len(scorer.score([Pair("q", "d")])) == 1


def test_rerank_never_replaces_a_checkpoint_or_base_model_it_reads(
    make_spec, llama_dir: Path, tmp_path: Path, invoke, capsys
) -> None:
    """`rerank --run RUN --checkpoint ELSEWHERE/step --out ELSEWHERE --overwrite` read the checkpoint and
    then deleted its folder: the checkpoint (which may lie outside the run) and the base model count as
    inputs too."""
    import shutil

    from rankscope.trained import adapter_folder, run_inputs

    run = tmp_path / "run"
    train(make_spec(), run)
    kept = tmp_path / "kept"
    shutil.copytree(adapter_folder(run), kept / "step")
    assert run_inputs(run, kept / "step") == [run, kept / "step", str(llama_dir)]
    assert run_inputs(None) == [] and run_inputs(tmp_path / "nothing") == [tmp_path / "nothing"]
    cands = tmp_path / "c.jsonl"
    cands.write_text('{"qid": "q1", "query": "flea", "hits": [{"docid": "a", "score": 1, "content": "x"}]}\n')
    for out in (kept, llama_dir):
        args = ["rerank", "--run", str(run), "--checkpoint", str(kept / "step"), "--candidates", str(cands)]
        assert invoke(*args, "--out", str(out), "--overwrite") == 2
        assert "would replace or lie inside the input" in capsys.readouterr().err
    assert (kept / "step").is_dir() and (llama_dir / "config.json").is_file()


def test_merged_adapters_score_as_the_unmerged_ones(make_spec, tmp_path: Path, invoke, capsys) -> None:
    """`merge` writes the LoRA adapters into the weights (no PEFT layers left) and, in float32, scores as
    the unmerged adapters do; `rerank --merge` records it and needs --run."""
    run = tmp_path / "run"
    result = train(make_spec(method={"name": "lora", "rank": 4, "alpha": 8}), run)
    pairs = [*PAIRS, Pair("do cats sleep", "passage: cats sleep a lot"), Pair("why", "dogs bark loudly")]
    unmerged = Reranker.from_run(run, device="cpu", dtype="float32")
    merged = result.reranker(device="cpu", dtype="float32", merge=True)  # Reranker.from_run(merge=True)
    assert any("lora_" in n for n, _ in unmerged.scorer.model.named_parameters())
    assert not any("lora_" in n for n, _ in merged.scorer.model.named_parameters())
    with unmerged.scorer.model.disable_adapter():
        base = unmerged.scorer.score(pairs)
    want = unmerged.scorer.score(pairs)
    assert max(abs(a - b) for a, b in zip(base, want, strict=True)) > 1e-3  # the adapter does something
    assert merged.scorer.score(pairs) == pytest.approx(want, abs=1e-4)
    cands = tmp_path / "c.jsonl"
    cands.write_text('{"qid": "q1", "query": "flea", "hits": [{"docid": "a", "score": 1, "content": "x"}]}\n')
    args = ["rerank", "--candidates", str(cands), "--dtype", "float32"]
    assert invoke(*args, "--run", str(run), "--merge", "--out", str(tmp_path / "out")) == 0
    assert yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())["merge"] is True
    assert invoke(*args, "--run", str(run), "--merge", "--stream", "--out", str(tmp_path / "s")) == 0
    capsys.readouterr()
    assert invoke(*args, "--model", "x", "--scorer", "yes-no", "--merge", "--out", str(tmp_path / "m")) == 2
    assert "--merge" in capsys.readouterr().err and not (tmp_path / "m").exists()
