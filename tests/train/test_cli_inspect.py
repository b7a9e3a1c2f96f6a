"""`rankscope inspect` on a tiny trained run writes every analysis into RUN/inspect/ (never half of them),
`rankscope report` turns the run into a page with every section; a folder that is no run exits 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rankscope.data.readers import read_qrels, read_trec_run
from rankscope.evaluate.metrics import evaluate
from rankscope.inspect.ablation import load_ablation, run_file_name
from rankscope.inspect.attention import load_attention
from rankscope.inspect.deltas import load_deltas
from rankscope.inspect.probes import load_probes
from rankscope.inspect.run import load_run_scorers
from rankscope.scorers.base import Pair
from rankscope.testing import killed_copy
from rankscope.train.run import train


def test_inspect_then_report(make_spec, tmp_path: Path, capsys, invoke) -> None:
    run = tmp_path / "run"
    train(make_spec(optim={"steps": 2, "save_every": 1, "lr": 0.05}), run)
    (run / "deltas.npz").unlink()  # a run from before deltas were recorded: inspect reads its checkpoints

    killed = killed_copy(run / "inspect")  # a killed inspection's folder: removed
    killed.mkdir()
    (killed / "probes.json").write_text("{half")
    opts = ["--windows", "1", "--layers", "0,2", "--probe-pairs", "10", "--attention-pairs", "6"]
    cpu = ["--device", "cpu", "--dtype", "float32"]
    assert invoke("inspect", str(run), *opts, *cpu) in (0, None)
    out = run / "inspect"
    names = {p.name for p in out.iterdir()}
    runs = {n for n in names if n.endswith(".trec")}
    assert names - runs == {"deltas.npz", "probes.json", "attention.json", "ablation.json", "inspect.json"}
    assert {"ablation-zero-shot.trec", "ablation-fine-tuned.trec", "ablation-attention-only.trec"} <= runs
    assert not list(run.glob(".inspect.tmp-*"))
    assert load_deltas(out / "deltas.npz").steps.tolist() == [1, 2]
    probes = load_probes(out / "probes.json")
    assert len(probes.tuned.auc) == 3 and probes.base is not None
    assert sorted({v.layer for v in probes.pca}) == [0, 2]
    att = load_attention(out / "attention.json")
    assert att.after is not None and att.before["last_to_doc"].shape == (2, 4)
    abl = load_ablation(out / "ablation.json")
    assert runs == {run_file_name(n) for n in ["zero-shot", "fine-tuned"] + [r.name for r in abl.rows]}
    assert (run / "best").is_dir() and abl.selection_queries == abl.gain_queries > 0  # RUN/best chose on them
    best = json.loads((run / "best" / "best.json").read_text())
    assert abl.selection_measure == best["measure"] and best["source"].startswith("checkpoints/")
    step = ["--checkpoint", str(best["step"]), "--no-probes", "--no-attention", "--windows", "none"]
    assert invoke("inspect", str(run), *opts, *cpu, *step) in (0, None)  # the best step named by number
    assert load_ablation(out / "ablation.json").selection_queries == abl.selection_queries  # read 0 before
    assert invoke("inspect", str(run), *opts, *cpu) in (0, None)  # every analysis again, for what follows
    qrels = read_qrels(run / "dev_qrels.txt")
    ablated = evaluate(read_trec_run(out / "ablation-attention-only.trec"), qrels, abl.measures)
    assert ablated == pytest.approx(next(r.metrics for r in abl.rows if r.name == "attention-only"))
    assert abl.windows is not None and abl.windows.sizes == [1] and abl.windows.starts == [0, 1]
    assert {"attention-only", "mlp-only"} <= {r.name for r in abl.rows} and abl.measures == [
        "nDCG@10",
        "RR@10",
    ]
    info = json.loads((out / "inspect.json").read_text())
    assert info["dev"]["source"] == "held-out training queries" and info["skipped"] == {}

    # an error part-way leaves RUN/inspect/ as it was and no temporary folder
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert invoke("inspect", str(run), "--layers", "7", "--no-ablation", *cpu) == 2
    assert "layer 7 is out of range" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert not list(run.glob(".inspect.tmp-*"))

    assert invoke("report", str(run)) in (0, None)
    page = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert page == run / "report" / "report.html"
    text = page.read_text()
    for key in ("trajectory", "gradnorms", "deltas", "probes", "attention", "ablation"):
        assert f"id='{key}'" in text, key
    summary = json.loads((run / "report" / "summary.json").read_text())
    assert summary["errors"] == {}


def test_inspect_a_lora_bi_encoder(make_spec, bert_dir: Path, tmp_path: Path, capsys, invoke) -> None:
    """A bi-encoder has no document-to-query attention: that part is skipped with the reason, the rest
    (probes, adapter ablation) is written and the ablation really switches the adapters off."""
    run = tmp_path / "run"
    method = {"name": "lora", "rank": 2, "layers": "all", "targets": ["attn", "mlp"]}
    spec = make_spec(model=str(bert_dir), scorer="bi-encoder", method=method, optim={"steps": 2, "lr": 0.05})
    train(spec, run)
    opts = ["--windows", "1", "--probe-pairs", "10", "--device", "cpu", "--dtype", "float32"]
    assert invoke("inspect", str(run), *opts) in (0, None)
    out = run / "inspect"
    assert {"probes.json", "ablation.json"} <= {p.name for p in out.iterdir()}
    assert "attention.json" not in {p.name for p in out.iterdir()}
    info = json.loads((out / "inspect.json").read_text())
    assert "encoded apart" in info["skipped"]["attention"]
    assert load_ablation(out / "ablation.json").rows

    (out / "ablation-keep-9-9.trec").write_text("")  # an earlier inspection's ablation run
    assert invoke("inspect", str(run), *opts, "--no-probes") in (0, None)
    assert not (out / "ablation-keep-9-9.trec").exists() and (out / "ablation-fine-tuned.trec").is_file()
    chosen = load_ablation(out / "ablation.json").selection_queries
    assert invoke("inspect", str(run), *opts, "--no-probes", "--checkpoint", "final") in (0, None)
    assert chosen and load_ablation(out / "ablation.json").selection_queries == 0  # no choice made on them
    for bad in (["--attention-pairs", "-1"], ["--stride", "0"]):  # a traceback / silently replaced before
        assert invoke("inspect", str(run), *opts, *bad) == 2
    assert invoke("inspect", str(run), *opts, "--no-ablation", "--layers", "99") == 2


def test_load_run_scorers_zero_shot(make_spec, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(make_spec(optim={"steps": 2, "lr": 0.05}), run)
    rs = load_run_scorers(run)
    pairs = [Pair("query fleas live a year 0", "passage: fleas live a year (0)")]
    tuned = rs.scorer.score(pairs)
    with rs.zero_shot() as zero:
        base = zero.score(pairs)
    assert rs.switchable and rs.base is None and tuned != base
    assert rs.scorer.score(pairs) == tuned  # the adapters are back on after the block

    full = tmp_path / "full"
    train(make_spec(method={"name": "freeze", "layers": "1", "targets": ["mlp"]}, optim={"steps": 2}), full)
    rs = load_run_scorers(full)
    assert not rs.switchable and rs.base is not None
    with rs.zero_shot() as zero:
        assert zero is rs.base and zero.score(pairs) != rs.scorer.score(pairs)


def test_inspect_a_full_weight_run_measures_its_weight_change(
    make_spec, tmp_path: Path, capsys, invoke
) -> None:
    """A full-weight run (freeze) gets ||W - W0||_F per checkpoint, only where it trained, and the
    report says so; its trained weights are ablated by component (put back to the base model's)."""
    run = tmp_path / "full"
    method = {"name": "freeze", "layers": "1", "targets": ["mlp"]}
    train(make_spec(method=method, optim={"steps": 2, "lr": 0.05, "save_every": 1}), run)
    only = ["--no-probes", "--no-attention", "--no-ablation", "--device", "cpu", "--dtype", "float32"]
    assert invoke("inspect", str(run), *only) in (0, None)
    deltas = load_deltas(run / "inspect" / "deltas.npz")
    assert deltas.kind == "full" and deltas.steps.tolist() == [1, 2]
    assert deltas.components == ["mlp.gate", "mlp.up", "mlp.down"]
    assert deltas.trained[1].all() and not deltas.trained[0].any()
    assert (deltas.norms[:, 1] > 0).all() and not deltas.norms[:, 0].any()
    assert invoke("report", str(run)) in (0, None)
    page = Path(capsys.readouterr().out.strip().splitlines()[-1]).read_text()
    assert "change W − W₀ from the base model" in page
    assert "compare layers, not components" in page

    # the trained weights ablated by component: put back to the base model's, which is zero-shot
    cpu = ["--no-probes", "--no-attention", "--windows", "1", "--device", "cpu", "--dtype", "float32"]
    assert invoke("inspect", str(run), *cpu, "--presets", "nope") == 2
    assert "unknown ablation preset 'nope'" in capsys.readouterr().err
    assert invoke("inspect", str(run), *cpu, "--presets", "attention-only, gate-only,up-only") in (0, None)
    abl = load_ablation(run / "inspect" / "ablation.json")
    assert abl.updates == "weight updates" and abl.modules == 3  # gate, up, down of layer 1
    assert {r.name for r in abl.rows} == {"gate-only", "up-only"}
    assert abl.skipped["attention-only"] == "keeps no trained weight"
    assert abl.skipped["keep 1-1"] == "switches off no trained weight"  # the window of layer 1 keeps all
    runs = {f.name for f in (run / "inspect").glob("ablation-*.trec")}
    assert runs == {run_file_name(n) for n in ["zero-shot", "fine-tuned", "gate-only", "up-only"]}
    assert invoke("report", str(run)) in (0, None)
    page = Path(capsys.readouterr().out.strip().splitlines()[-1]).read_text()
    assert "Weight-update ablation" in page and "tensors off" in page

    shutil.rmtree(run / "checkpoints")  # rotated away: the final weights (RUN/adapter) give the last step
    assert invoke("inspect", str(run), *only) in (0, None)
    deltas = load_deltas(run / "inspect" / "deltas.npz")
    assert deltas.steps.tolist() == [2] and deltas.labels == ["adapter"]


def test_a_custom_full_weight_method_gets_weight_deltas(make_spec, tmp_path: Path, invoke) -> None:
    """A registered method that unfreezes the model's own weights says so (trains_full_weights), and
    inspect then measures ||W - W0||_F against an untrained copy, as for `freeze` (it found no deltas)."""
    from typing import Literal

    from torch import nn

    from rankscope.config import METHOD_CONFIGS
    from rankscope.methods import METHODS, register_method
    from rankscope.methods.registry import MethodConfig

    class UpOnly(MethodConfig):
        name: Literal["up-only"] = "up-only"

        def trains_full_weights(self) -> bool:
            return True

    @register_method("up-only", UpOnly)
    def prepare_up(model: nn.Module, cfg: MethodConfig) -> nn.Module:
        for n, p in model.named_parameters():
            p.requires_grad_(".layers.1.mlp.up_proj." in n)
        return model

    try:
        run = tmp_path / "up"
        train(make_spec(method={"name": "up-only"}, optim={"steps": 2, "lr": 0.05, "save_every": 1}), run)
        only = ["--no-probes", "--no-attention", "--no-ablation", "--device", "cpu", "--dtype", "float32"]
        assert invoke("inspect", str(run), *only) in (0, None)
        deltas = load_deltas(run / "inspect" / "deltas.npz")
        assert deltas.kind == "full" and deltas.steps.tolist() == [1, 2]
        up = deltas.components.index("mlp.up")
        assert (deltas.norms[:, 1, up] > 0).all() and deltas.trained[1, up] and not deltas.trained[0].any()
    finally:
        METHODS.pop("up-only")
        METHOD_CONFIGS.pop("up-only")


def test_inspect_refuses_a_folder_that_is_no_run(tmp_path: Path, capsys, invoke) -> None:
    assert invoke("inspect", str(tmp_path / "missing")) == 2
    assert "no such run folder" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("x")
    assert invoke("inspect", str(tmp_path)) == 2
    assert "not a training run folder (no spec.yaml)" in capsys.readouterr().err
    assert not (tmp_path / "inspect").exists()
