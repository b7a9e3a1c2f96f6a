"""Every scorer/objective pair and every method trains on tiny random models: finite, changing loss,
checkpoints with the adapter in PEFT's format, dev metrics per checkpoint."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rankscope.errors import InputError
from rankscope.train.run import train


def losses(out: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (out / "loss.jsonl").read_text().splitlines()]


def check_trained(out: Path, steps: int = 3) -> None:
    values = losses(out)
    assert len(values) == steps and all(math.isfinite(v) for v in values)
    assert max(values) - min(values) > 1e-6, values  # the loss moves as the weights do
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == steps and math.isfinite(rows[-1]["dev_loss"])
    assert (out / "spec.yaml").is_file() and (out / "train.log").is_file()
    assert (out / "checkpoints" / f"checkpoint-{steps}" / "trainer_state.json").is_file()


@pytest.mark.parametrize(
    ("scorer", "objective", "group_size"),
    [
        ("yes-no", "pointwise-bce", 1),
        ("yes-no", "ranknet", 3),
        ("yes-no", "hinge", 3),
        ("linear-head", "listwise", 3),
        ("query-likelihood", "ql-nll", 2),
        ("query-likelihood", [{"name": "ql-nll"}, {"name": "ranknet", "weight": 0.5}], 3),
        ("pairwise", "pairwise-ab", 3),
    ],
)
def test_objectives_train(make_spec, tmp_path: Path, scorer: str, objective, group_size: int) -> None:
    spec = make_spec(scorer=scorer, objective=objective, train={"group_size": group_size})
    res = train(spec, tmp_path / "run")
    check_trained(tmp_path / "run")
    adapter = tmp_path / "run" / "adapter"
    assert (adapter / "adapter_config.json").is_file() and res.adapter == adapter
    assert (adapter / "head.safetensors").is_file() == (scorer == "linear-head")
    if scorer == "pairwise":
        assert res.metrics[-1]["pairwise_accuracy"] is not None


def test_cross_encoder_trains(make_spec, bert_dir: Path, tmp_path: Path) -> None:
    spec = make_spec(model=str(bert_dir), scorer="cross-encoder", objective="listwise")
    train(spec, tmp_path / "run")
    check_trained(tmp_path / "run")
    assert (tmp_path / "run" / "adapter" / "head.safetensors").is_file()


def test_bi_encoder_trains_and_reloads(make_spec, bert_dir: Path, tmp_path: Path) -> None:
    """The bi-encoder fine-tunes (full weights here) and the saved run reranks by the trained cosine."""
    from rankscope import Reranker
    from rankscope.data.examples import Group
    from rankscope.scorers.trainable import BiEncoderReranker

    method = {"name": "freeze", "layers": "all", "targets": ["attn", "mlp"], "full_weights": True}
    spec = make_spec(model=str(bert_dir), scorer="bi-encoder", objective="listwise", method=method)
    train(spec, tmp_path / "run")
    check_trained(tmp_path / "run")
    zero = Reranker.load(str(bert_dir), scorer="bi-encoder", device="cpu", dtype="float32")
    trained = Reranker.from_run(tmp_path / "run")
    docs = ["cats sleep a lot", "the stock market fell"]
    assert trained.score("do cats sleep", docs) != zero.score("do cats sleep", docs)
    plain = trained.score("do cats sleep", docs)
    assert all(-1.0001 <= s <= 1.0001 for s in plain)  # reranking ranks by plain cosines
    module = BiEncoderReranker(trained.scorer, trained.scorer.model)  # type: ignore[attr-defined]
    group = Group("q1", "do cats sleep", tuple(docs), (1.0, 0.0))
    batch = module.collate([group])
    batch.pop("labels"), batch.pop("n_tokens")
    with torch.no_grad():
        scaled = module(**batch)[0].tolist()
    assert scaled == pytest.approx([20 * s for s in plain], abs=1e-4)  # training sees 20 x the same cosines


@pytest.mark.parametrize(
    "method",
    [
        {"name": "lora", "rank": 2, "targets": ["attn.q", "mlp.down"], "layers": "1"},
        {"name": "freeze", "layers": "1", "targets": ["mlp"], "full_weights": True},
        {"name": "freeze", "layers": "0", "targets": ["attn"], "full_weights": False, "rank": 2},
    ],
)
def test_methods_train_only_what_they_name(make_spec, tmp_path: Path, method: dict) -> None:
    checkpointing = method["name"] == "lora"  # gradient checkpointing rides along on one of them
    train(make_spec(method=method, optim={"gradient_checkpointing": checkpointing}), tmp_path / "run")
    check_trained(tmp_path / "run")
    adapter = tmp_path / "run" / "adapter"
    if method.get("full_weights"):
        names = set(load_file(str(adapter / "trainable.safetensors")))
        assert names and all(".layers.1.mlp." in n for n in names)
    else:
        names = set(load_file(str(adapter / "adapter_model.safetensors")))
        want = {"1": ("q_proj", "down_proj"), "0": ("q_proj", "k_proj", "v_proj", "o_proj")}[method["layers"]]
        assert all(f".layers.{method['layers']}." in n for n in names)
        assert {n.split(".")[-3] for n in names} == set(want)


def test_qlora_without_cuda_is_refused(make_spec, tmp_path: Path, monkeypatch) -> None:
    import rankscope.train.run as run_module

    built: list[bool] = []
    real = run_module.build_training_set
    monkeypatch.setattr(run_module, "build_training_set", lambda *a, **k: built.append(True) or real(*a, **k))
    with pytest.raises(InputError, match="QLoRA needs a CUDA GPU with bitsandbytes"):
        train(make_spec(method={"name": "lora", "qlora": True}), tmp_path / "run")
    assert not built  # refused before the data (and a teacher) took their time
    assert not (tmp_path / "run").exists()


def test_existing_output_is_never_overwritten(make_spec, tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        train(make_spec(), out)
    with pytest.raises(InputError, match="nothing to resume"):
        train(None, out, resume=True)
    assert (out / "keep.txt").read_text() == "x"


@pytest.mark.parametrize("scheduler", ["constant", "linear"])
def test_warmup_applies_to_every_scheduler(make_spec, tmp_path: Path, scheduler: str) -> None:
    spec = make_spec(optim={"steps": 4, "batch_size": 2, "lr": 0.01, "warmup": 2, "scheduler": scheduler})
    train(spec, tmp_path / scheduler)
    rows = [json.loads(x) for x in (tmp_path / scheduler / "loss.jsonl").read_text().splitlines()]
    lrs = [round(r["learning_rate"], 6) for r in rows]
    assert lrs[:3] == [0.0, 0.005, 0.01]  # "constant" ran at 0.01 from step 1
    assert lrs[3] == (0.01 if scheduler == "constant" else 0.005)


def test_a_spec_made_in_python_stores_absolute_paths(make_spec, tmp_path: Path, monkeypatch) -> None:
    import os

    import yaml

    spec = make_spec(optim={"steps": 1, "save_every": 1, "batch_size": 2})
    monkeypatch.chdir(tmp_path)
    spec.model = os.path.relpath(spec.model, tmp_path)  # as a notebook in that folder would write it
    spec.train.files = [os.path.relpath(f, tmp_path) for f in spec.train.files]
    train(spec, tmp_path / "run")
    stored = yaml.safe_load((tmp_path / "run" / "spec.yaml").read_text())
    assert Path(stored["model"]).is_absolute() and Path(stored["train"]["files"][0]).is_absolute()
    import logging

    logger = logging.getLogger("rankscope.train")
    monkeypatch.setattr(logger, "level", logging.WARNING)  # the caller's level, put back after the test
    assert train(spec.dump(), tmp_path / "from-dict").steps == 1  # a dict: AttributeError before
    assert logger.level == logging.WARNING  # left at INFO before
    assert "INFO" in (tmp_path / "from-dict" / "train.log").read_text()
    with pytest.raises(InputError, match="expected a spec"):
        train(42, tmp_path / "x")  # type: ignore[arg-type]


def test_a_method_that_trains_nothing_is_refused_and_leaves_nothing(make_spec, tmp_path: Path) -> None:
    from typing import Literal

    from torch import nn

    from rankscope.config import METHOD_CONFIGS
    from rankscope.methods import METHODS, register_method
    from rankscope.methods.registry import MethodConfig

    class Nothing(MethodConfig):
        name: Literal["nothing"] = "nothing"

    @register_method("nothing", Nothing)
    def prepare_nothing(m: nn.Module, cfg: MethodConfig) -> nn.Module:
        return m.requires_grad_(False)

    try:
        with pytest.raises(InputError, match="method: method 'nothing' leaves no parameter to train"):
            train(make_spec(method={"name": "nothing"}), tmp_path / "run")  # a torch error deep inside before
        assert not (tmp_path / "run").exists()  # so the corrected spec trains into the same folder
        # with a teacher, its scores are kept, and the error says how a new folder reads them
        teacher = {"scorers": [{"model": make_spec().model, "scorer": "query-likelihood"}]}
        spec = make_spec(method={"name": "nothing"}, objective="kl", teacher=teacher)
        with pytest.raises(InputError, match=r"leaves no parameter to train \(the teacher's scores stay in"):
            train(spec, tmp_path / "t")
        fixed = make_spec(objective="kl", teacher={**teacher, "reuse": [str(tmp_path / "t")]})
        fixed.optim.steps = 1
        assert train(fixed, tmp_path / "t2").steps == 1
        summary = json.loads((tmp_path / "t2" / "summary.json").read_text())
        assert summary["teacher_pairs_computed"] == 0  # every score read from the first folder
    finally:
        METHODS.pop("nothing")
        METHOD_CONFIGS.pop("nothing")
