"""The HTML report from synthetic run folders: one self-contained page with a section (figures, tables,
findings) for exactly what the folder holds, the PNGs and summary.json beside it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from rankscope.errors import InputError
from rankscope.inspect.ablation import AblationResult, AblationRow, WindowSweep, save_ablation
from rankscope.inspect.attention import MEASURES, AttentionResult, save_attention
from rankscope.inspect.deltas import DeltaHistory, save_deltas
from rankscope.inspect.gradnorms import GradNormHistory, save_gradnorms
from rankscope.inspect.probes import PcaView, ProbeCurve, ProbeResult, load_probes, save_probes
from rankscope.report import write_report
from rankscope.report.findings import gradnorm_findings, peak_window

LAYERS, COMPS = 9, ["attn.q", "attn.v", "mlp.up", "mlp.down"]


def jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def training_files(run: Path) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / "spec.yaml").write_text("model: tiny\nscorer: yes-no\n")
    steps = np.arange(1, 121)
    loss = 0.4 + 1 / (1 + np.exp((steps - 50) / 5))
    jsonl(run / "loss.jsonl", [{"step": int(s), "loss": float(v)} for s, v in zip(steps, loss, strict=True)])
    jsonl(
        run / "metrics.jsonl", [{"step": s, "nDCG@10": 0.2 + s / 400, "RR@10": 0.3} for s in (0, 40, 80, 120)]
    )


def gradnorms(layers: int = LAYERS) -> GradNormHistory:
    rng = np.random.default_rng(0)
    steps = np.arange(1, 61)
    norms = rng.uniform(0.5, 1.0, (60, layers, len(COMPS))).astype(np.float32)
    norms[:, -3:] *= 6  # the last three layers take most of the gradient
    return GradNormHistory(
        steps, norms, COMPS, np.ones((layers, len(COMPS)), bool), norms[:, 0, :1] * 0.1, ["head"]
    )


def analysis_files(run: Path) -> None:
    save_gradnorms(gradnorms(), run / "gradnorms.npz")
    rng = np.random.default_rng(1)
    dn = np.cumsum(rng.uniform(0, 1, (3, LAYERS, 4)), axis=0).astype(np.float32)
    save_deltas(
        DeltaHistory(
            np.array([40, 80, 120]), ["c-40", "c-80", "c-120"], dn, COMPS, np.ones((LAYERS, 4), bool)
        ),
        run / "deltas.npz",
    )
    auc_b = list(np.linspace(0.5, 0.7, LAYERS + 1))
    auc_t = list(np.linspace(0.5, 0.95, LAYERS + 1))
    curve = lambda a: ProbeCurve(a, [0.02] * len(a), a, [0.03] * len(a))  # noqa: E731
    labels = [0, 1] * 20
    pts = rng.normal(size=(40, 2)).round(3).tolist()
    pca = [PcaView(5, "base", [0.3, 0.1], pts), PcaView(5, "tuned", [0.4, 0.1], pts)]
    save_probes(ProbeResult("pointwise", labels, 5, curve(auc_b), curve(auc_t), pca), run / "probes.json")
    before = {m: rng.uniform(0, 0.3, (LAYERS, 4)).astype(np.float32) for m in MEASURES}
    before["query_to_doc"][:] = 0
    after = {m: v * 1.2 for m, v in before.items()}
    save_attention(AttentionResult(before, after, 40), run / "attention.json")
    rows = [
        AblationRow(
            "attention-only", "preset", None, ["mlp.up", "mlp.down"], 18, {"nDCG@10": 0.3}, {"nDCG@10": 0.25}
        ),
        AblationRow(
            "mlp-only", "preset", None, ["attn.q", "attn.v"], 18, {"nDCG@10": 0.39}, {"nDCG@10": 0.93}
        ),
    ]
    wins = [[0.1, 0.2, 0.6, 0.8], [0.3, 0.5, 0.9, None]]
    sweep = WindowSweep("keep", 2, [3, 5], [0, 2, 4, 6], wins)
    save_ablation(
        AblationResult(
            ["nDCG@10"],
            "nDCG@10",
            LAYERS,
            36,
            {"nDCG@10": 0.2},
            {"nDCG@10": 0.4},
            rows,
            {"gate-only": "keeps no adapter"},
            sweep,
        ),
        run / "ablation.json",
    )


SECTIONS = ["trajectory", "gradnorms", "deltas", "probes", "attention", "ablation"]


def test_full_report(tmp_path: Path) -> None:
    run = tmp_path / "run"
    training_files(run)
    analysis_files(run)
    page_path = write_report(run)
    assert page_path == run / "report" / "report.html"
    page = page_path.read_text()
    summary = json.loads((run / "report" / "summary.json").read_text())
    assert summary["errors"] == {} and summary["sections"] == SECTIONS
    for key in ["run", "summary", *SECTIONS]:
        assert f"id='{key}'" in page
    srcs = re.findall(r"src='([^']*)'", page)
    assert len(srcs) == len(summary["figures"]) == 10 and all(
        s.startswith("data:image/png;base64,") for s in srcs
    )
    assert all((run / "report" / f).stat().st_size > 1000 for f in summary["figures"])
    assert "Gradient mass peaks in layers 6-8" in page
    assert "MLP-only adapters keep 93% of the gain." in page
    assert "best 5-layer window (layers 4-8) alone keeps 90% of the gain" in page
    assert "steepest drop of the smoothed loss" in page and "query → document" not in page
    assert "folds were not grouped by query" in page  # a probes file without query-grouped folds
    assert summary["numbers"]["probes"]["fine-tuned"]["best_layer"] == LAYERS
    assert "spec.yaml" in page and "<script" not in page
    # the zero-shot row has every adapter off (36 modules, share 0), the fine-tuned row none: swapped before
    cells = [re.sub("<[^>]+>", "", c) for c in re.findall(r"<tr>(.*?)</tr>", page)]
    assert any(c.startswith("zero-shot36") for c in cells) and any(c.startswith("fine-tuned0") for c in cells)


def test_sections_only_for_what_is_there(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    jsonl(run / "loss.jsonl", [{"step": s, "loss": 1.0 / s} for s in range(1, 30)])
    (run / "inspect").mkdir()
    save_gradnorms(gradnorms(), run / "inspect" / "gradnorms.npz")  # the inspect/ subfolder counts too
    out = write_report(run, tmp_path / "elsewhere")
    summary = json.loads((tmp_path / "elsewhere" / "summary.json").read_text())
    assert summary["sections"] == ["trajectory", "gradnorms"]
    page = out.read_text()
    assert "id='probes'" not in page and "id='ablation'" not in page and "id='run'" not in page

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a run")
    with pytest.raises(InputError, match="empty: nothing to report: not a training, soup, sweep"):
        write_report(empty)  # wrote an empty report before
    assert not (empty / "report").exists()
    with pytest.raises(InputError):
        write_report(tmp_path / "missing")
    with pytest.raises(InputError):
        write_report(run, run)  # would overwrite the run's own summary.json
    other = tmp_path / "other-run"  # another run's folder: its training summary.json was replaced
    other.mkdir()
    (other / "summary.json").write_text('{"steps": 3}')
    with pytest.raises(InputError, match="holds a run"):
        write_report(run, other)
    assert (other / "summary.json").read_text() == '{"steps": 3}'
    with pytest.raises(InputError, match="is not a folder"):  # a FileExistsError traceback before
        write_report(run, other / "summary.json")
    assert write_report(run, tmp_path / "elsewhere").is_file()  # its own earlier report is replaced


def test_broken_file_costs_only_its_section(tmp_path: Path) -> None:
    run = tmp_path / "run"
    training_files(run)
    (run / "probes.json").write_text("{not json")
    summary_page = write_report(run).read_text()
    summary = json.loads((run / "report" / "summary.json").read_text())
    assert "probes.json" in summary["errors"] and summary["sections"] == ["trajectory"]
    assert "Could not read probes.json" in summary_page


def test_a_rerun_report_removes_its_earlier_figures_of_sections_it_lacks(tmp_path: Path) -> None:
    """A section gone since the last report (its file removed or broken) left its PNG beside the new page,
    stale; the report's own earlier figures go, other files in the folder stay."""
    run = tmp_path / "run"
    training_files(run)
    analysis_files(run)
    write_report(run)
    first = json.loads((run / "report" / "summary.json").read_text())["figures"]
    (run / "report" / "mine.png").write_bytes(b"a user's own figure")
    (run / "probes.json").write_text("{not json")
    write_report(run)
    now = json.loads((run / "report" / "summary.json").read_text())["figures"]
    assert set(now) < set(first)
    assert sorted(p.name for p in (run / "report").glob("*.png")) == sorted([*now, "mine.png"])


def test_bi_encoder_probes_show_the_cosine_readout(tmp_path: Path) -> None:
    """A bi-encoder's probes file carries each layer's cosine AUC: the table gains a column per side."""
    run = tmp_path / "run"
    run.mkdir()
    auc = [0.6, 0.7, 0.8]
    curve = ProbeCurve(auc, [0.0] * 3, auc, [0.0] * 3, [0.55, 0.65, 0.875])
    save_probes(ProbeResult("pointwise", [0, 1] * 4, 2, curve, curve, []), run / "probes.json")
    assert load_probes(run / "probes.json").base.readout_auc == [0.55, 0.65, 0.875]  # type: ignore[union-attr]
    page = write_report(run).read_text()
    assert "base cosine AUC" in page and "fine-tuned cosine AUC" in page and "0.875" in page
    plain = tmp_path / "plain"
    plain.mkdir()
    save_probes(
        ProbeResult("pointwise", [0, 1] * 4, 2, ProbeCurve(auc, [0.0] * 3, auc, [0.0] * 3), None, []),
        plain / "probes.json",
    )
    assert "cosine AUC" not in write_report(plain).read_text()


def test_sweep_table(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    jsonl(
        sweep / "results.jsonl",
        [{"name": f"rank-{r}", "rank": r, "nDCG@10": 0.3 + r / 100} for r in (1, 8, 32)],
    )
    page = write_report(sweep).read_text()
    assert "id='sweep'" in page and "Best run by nDCG@10: rank-32" in page


def test_only_soft_prompt_gradients(tmp_path: Path) -> None:
    """A Q-PEFT-like run trains nothing inside the blocks: no layer figures, the outside share is named."""
    run = tmp_path / "run"
    run.mkdir()
    g = gradnorms(layers=4)
    only_extra = GradNormHistory(
        g.steps, np.zeros((60, 4, 0), np.float32), [], np.zeros((4, 0), bool), g.extra, ["prompter.mlp"]
    )
    save_gradnorms(only_extra, run / "gradnorms.npz")
    write_report(run)
    summary = json.loads((run / "report" / "summary.json").read_text())
    assert summary["errors"] == {} and summary["figures"] == []
    assert summary["findings"]["gradnorms"] == [
        "100% of the squared gradient norm, summed over steps, is outside the transformer blocks "
        "(prompter.mlp)."
    ]


def test_gradnorm_findings_numbers() -> None:
    f = gradnorm_findings(gradnorms())
    assert f.numbers["peak_layers"] == [6, 8] and 0.6 < f.numbers["peak_share"] < 0.9
    assert abs(sum(f.numbers["layer_share"]) - 1) < 1e-9
    assert peak_window(np.array([0, 1, 5, 5, 0.0]), 2) == (2, 3, 10 / 11)


def test_a_soup_says_it_is_one(tmp_path: Path) -> None:
    """A soup folder's report names its ingredients and weights, and that its spec is the first's."""
    run = tmp_path / "soup"
    run.mkdir()
    (run / "spec.yaml").write_text("model: minilm-l6\n")
    parts = [{"run": "runs/a", "checkpoint": "runs/a/best", "weight": 1.0}]
    parts.append({"run": "runs/b", "checkpoint": "runs/b/checkpoints/checkpoint-300", "weight": 2.0})
    (run / "soup.json").write_text(json.dumps({"ingredients": parts, "tensors": 4, "lora_rank": None}))
    page = write_report(run).read_text()
    assert "A soup (rankscope soup)" in page and "the first ingredient" in page
    assert "runs/b/checkpoints/checkpoint-300" in page
    (run / "soup.json").unlink()
    assert "A soup" not in write_report(run).read_text()  # a plain run says nothing of soups


def test_a_flat_profile_is_not_called_a_peak() -> None:
    from rankscope.report.findings import peak_words

    flat = np.ones(30) + np.linspace(0, 0.05, 30)  # a third of the layers holds 34% of it
    text = peak_words("Gradient mass", flat)[0]
    assert "spread about evenly over the 30 trained layers" in text and "against 33%" in text
    assert "peaks" not in text
    peaked = np.r_[np.ones(20), np.full(10, 4.0)]
    text, a, b, share = peak_words("Gradient mass", peaked)
    assert text == (
        "Gradient mass peaks in layers 20-29 (67% of the total; an even spread over the 30 trained layers "
        "gives 33%)."
    )
    assert (a, b) == (20, 29)
    half = np.r_[np.ones(15), np.zeros(15)]  # a run training layers 0-14 only, flat over them
    trained = np.r_[np.ones(15, dtype=bool), np.zeros(15, dtype=bool)]
    text = peak_words("Gradient mass", half, trained)[0]
    assert "spread about evenly over the 15 trained layers" in text  # "peaks in layers 0-9 (67%)" before
    assert "one layer holds" in peak_words("Gradient mass", np.ones(3))[0]  # "any 1 contiguous layers"
    even = np.arange(30) % 2 == 0  # every other layer trained: 15 of 30
    flat = np.where(even, 1.0, 0.0)
    text = peak_words("Gradient mass", flat, even)[0]  # "hold is 20% ..., against 33%" before
    assert "15 trained layers: the most any 5 adjacent trained layers hold is 33%" in text
    peak = flat * np.where(np.arange(30) < 9, 3.0, 1.0)
    assert peak_words("Gradient mass", peak, even)[0].startswith("Gradient mass peaks in layers 0-8")
    assert peak_words("Gradient mass", np.array([0.0, 2.0]), np.array([False, True]))[0] == (
        "Gradient mass is all in layer 1, the only trained layer."
    )


def test_the_share_outside_the_blocks_does_not_depend_on_the_grouping() -> None:
    steps, layers = 30, 24
    norms = np.full((steps, layers, 1), 0.2, dtype=np.float32)
    trained = np.ones((layers, 1), dtype=bool)

    def share(extra: np.ndarray) -> str:
        names = [f"head{i}" for i in range(extra.shape[1])]
        hist = GradNormHistory(np.arange(1, steps + 1), norms, ["mlp"], trained, extra, names)
        return gradnorm_findings(hist).sentences[0].split("%")[0]

    one = share(np.ones((steps, 1), dtype=np.float32))  # a head of norm 1 against 24 layers of 0.2
    two = share(np.full((steps, 2), 2**-0.5, dtype=np.float32))  # the same gradient in two groups
    assert one == two == "51"  # 1 / (1 + 24 x 0.04); summed norms read 17% and 23% before


def test_probe_wording_follows_the_curve() -> None:
    from rankscope.report.findings import probe_findings

    def curve(auc: list[float]) -> ProbeCurve:
        return ProbeCurve(auc, [0.01] * len(auc), auc, [0.01] * len(auc))

    gapped = ProbeResult(
        "pointwise", [0, 1], 5, curve([0.5, 0.8, 0.6, 0.6, 0.62]), curve([0.5, 0.7, 0.5, 0.5, 0.5])
    )
    text = " ".join(probe_findings(gapped).sentences)
    assert "at probe layers 1 only" in text and "from probe layer 1 on" not in text  # it claimed layers 1-4
    assert "raises probe AUC at no layer; it lowers it least at probe layer 0 (+0.00" in text
    rising = ProbeResult("pointwise", [0, 1], 5, curve([0.5, 0.8, 0.6, 0.8, 0.9]), None)
    assert "from probe layer 3 on" in probe_findings(rising).sentences[0]


def test_an_undefined_probe_auc_is_said_not_named_best() -> None:
    from rankscope.report.findings import probe_findings

    def curve(auc: list[float]) -> ProbeCurve:
        return ProbeCurve(auc, [0.01] * len(auc), auc, [0.01] * len(auc))

    nan = float("nan")
    diverged = ProbeResult("pointwise", [0, 1], 5, curve([0.5, 0.8, 0.9]), curve([0.6, nan, nan]))
    sentences = probe_findings(diverged).sentences
    text = " ".join(sentences)
    assert "best AUC nan" not in text and "nan" not in text.replace("non-finite", "")
    assert "best AUC 0.60 at probe layer 0" in sentences[1]  # the nan layers were "best" and "readable"
    assert "undefined (non-finite) at probe layers 1, 2" in sentences[1]
    assert "at no layer" in sentences[1]
    assert "raises probe AUC most at probe layer 0 (+0.10" in text
    dead = ProbeResult("pointwise", [0, 1], 5, None, curve([nan, nan]), grouped=True)
    assert probe_findings(dead).sentences == [
        "In the fine-tuned model, the probe AUC is undefined at every layer (non-finite)."
    ]


def test_non_finite_attention_mass_is_said_and_left_out() -> None:
    from rankscope.inspect.attention import MEASURES, AttentionResult
    from rankscope.report.findings import attention_findings

    before = {m: np.zeros((1, 2)) for m in MEASURES} | {"doc_to_query": np.array([[0.2, 0.4]])}
    after = {m: np.zeros((1, 2)) for m in MEASURES} | {"doc_to_query": np.array([[0.3, np.nan]])}
    text = " ".join(attention_findings(AttentionResult(before, after, 3)).sentences)
    assert "from 0.300 to 0.300" in text and "1 non-finite" in text  # "to nan" and a nan "largest change"
    assert "layer 0 head 0 (+0.100)" in text
    assert "nan" not in text.replace("non-finite", "")
    dead = {m: np.zeros((1, 2)) for m in MEASURES} | {"doc_to_query": np.full((1, 2), np.nan)}
    text = " ".join(attention_findings(AttentionResult(before, dead, 3)).sentences)
    assert "undefined after fine-tuning (before: 0.300)" in text and "nan" not in text.replace(
        "non-finite", ""
    )
    assert "query → document" not in text  # 0 everywhere before and after: still left out
    text = " ".join(attention_findings(AttentionResult(dead, before, 3)).sentences)
    assert "undefined before fine-tuning (after: 0.300)" in text  # it said "before and after"
    text = " ".join(attention_findings(AttentionResult(dead, dead, 3)).sentences)
    assert "document → query attention mass is undefined before and after fine-tuning" in text  # dropped
    text = " ".join(attention_findings(AttentionResult(dead, None, 3)).sentences)
    assert "document → query attention mass is undefined: non-finite" in text  # "mass: nan" before


def test_a_drop_sweep_names_the_window_whose_loss_costs_most() -> None:
    from rankscope.report.findings import ablation_findings

    sweep = WindowSweep("drop", 2, [2], [0, 2, 4], [[0.95, 0.05, 0.90]])
    abl = AblationResult(["nDCG@10"], "nDCG@10", 6, 12, {"nDCG@10": 0.2}, {"nDCG@10": 0.4}, [], {}, sweep)
    text = " ".join(ablation_findings(abl).sentences)
    assert "Dropping the 2-layer window that matters most (layers 2-3) leaves 5% of it." in text  # 0-1 before


def test_a_gain_within_noise_is_said_to_be_noise() -> None:
    from rankscope.report.findings import ablation_findings

    def abl(p: float | None) -> AblationResult:
        a = AblationResult(["nDCG@10"], "nDCG@10", 6, 12, {"nDCG@10": 0.2}, {"nDCG@10": 0.2005})
        a.gain_p, a.gain_queries = p, 43
        return a

    noisy = " ".join(ablation_findings(abl(0.93)).sentences)
    assert "The gain is noise (paired t-test over 43 dev queries, p = 0.93)" in noisy
    for p in (0.01, None):  # a finding, or an ablation.json from before the test was recorded
        assert "noise" not in " ".join(ablation_findings(abl(p)).sentences)
    chosen = abl(0.01)
    chosen.selection_queries = 20
    text = " ".join(ablation_findings(chosen).sentences)
    assert "chosen by its dev nDCG@10 on 20 of these 43 queries, so the gain reads high" in text
    chosen.selection_measure = "dev_loss"  # dev.select_by, not the ablation's primary measure
    assert "chosen by its dev loss on 20" in " ".join(ablation_findings(chosen).sentences)
    assert "chosen by" not in " ".join(ablation_findings(abl(0.01)).sentences)


def test_a_custom_ablation_says_what_it_switched_off() -> None:
    from rankscope.inspect.ablation import AblationRow
    from rankscope.report.findings import ablation_findings

    rows = [
        AblationRow(
            "low", "custom", [0, 1, 2, 3], ["attn.q", "attn.v"], 8, {"nDCG@10": 0.3}, {"nDCG@10": 0.5}
        ),
        AblationRow("odd", "custom", [1, 3], None, 4, {"nDCG@10": 0.35}, {"nDCG@10": 0.75}),
        AblationRow("mlp-only", "preset", None, ["attn.q"], 4, {"nDCG@10": 0.4}, {"nDCG@10": 1.0}),
    ]
    abl = AblationResult(["nDCG@10"], "nDCG@10", 6, 12, {"nDCG@10": 0.2}, {"nDCG@10": 0.4}, rows)
    text = " ".join(ablation_findings(abl).sentences)
    assert (
        "With 'low' (attn.q, attn.v adapters of layers 0-3 switched off), the adapters left on keep 50% "
        "of the gain." in text
    )
    assert "With 'odd' (all adapters of layers 1, 3 switched off), the adapters left on keep 75%" in text
    assert "MLP-only adapters keep 100% of the gain." in text


def test_a_sweep_with_seeds_names_the_best_configuration_by_its_mean(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    values = {"A": (0.70, 0.50, 0.52), "B": (0.66, 0.65, 0.64)}
    rows = [
        {"name": f"{c}_seed-{i}", "config": c, "seed": i, "nDCG@10": v}
        for c, vs in values.items()
        for i, v in enumerate(vs)
    ]
    jsonl(sweep / "results.jsonl", rows)
    page = write_report(sweep).read_text()
    assert "Best configuration by mean nDCG@10 over its seeds: B (0.65 +- 0.01, 3 seeds) of 2" in page
    assert "the best single run is A_seed-0 (0.7)" in page  # it read "Best run: A_seed-0"


def test_a_killed_runs_torn_lines_and_a_damaged_summary_cost_no_section(tmp_path: Path) -> None:
    run = tmp_path / "run"
    training_files(run)
    with (run / "loss.jsonl").open("a") as f:
        f.write('{"step": 99, "lo')  # the last line of a run killed mid-write
    (run / "summary.json").write_text('{"steps": 3, "best')  # damaged from outside
    write_report(run)
    summary = json.loads((run / "report" / "summary.json").read_text())
    assert summary["sections"][0] == "trajectory" and "run" in summary["errors"]  # both lost, or a crash

    sweep = tmp_path / "sweep"
    sweep.mkdir()
    rows = [{"name": f"rank-{r}", "rank": r, "nDCG@10": 0.3 + r / 100} for r in (1, 8)]
    jsonl(sweep / "results.jsonl", rows)
    with (sweep / "results.jsonl").open("a") as f:
        f.write('{"name": "rank-32", "nD')
    (sweep / "results.csv").write_text("name,rank,nDCG@10\nrank-1,1,0.31\nrank-8,8,0.38\n")
    page = write_report(sweep).read_text()
    assert page.count("id='sweep'") == 1 and "Best run by nDCG@10: rank-8" in page  # lost, or twice


def test_a_dollar_in_a_run_name_is_drawn_as_written(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    jsonl(sweep / "results.jsonl", [{"name": "lr=$x^$", "nDCG@10": 0.3}, {"name": "b", "nDCG@10": 0.4}])
    write_report(sweep)
    summary = json.loads((sweep / "report" / "summary.json").read_text())
    assert "sweep" in summary["sections"] and not summary["errors"]  # a mathtext error dropped it


def test_a_diverged_runs_gradient_norms_are_read_on_their_finite_steps(tmp_path: Path) -> None:
    hist = gradnorms()
    hist.norms[10, 2, 0], hist.norms[11, 0, 1] = np.nan, np.inf  # the steps a loss went non-finite
    text = " ".join(gradnorm_findings(hist).sentences)
    assert "not finite at 2 of 60 logged steps (first at step 11)" in text
    assert "nan%" not in text and f"Gradient mass peaks in layers {LAYERS - 3}-{LAYERS - 1}" in text
    run = tmp_path / "run"
    run.mkdir()
    save_gradnorms(hist, run / "gradnorms.npz")
    write_report(run)
    summary = json.loads((run / "report" / "summary.json").read_text())
    assert summary["sections"] == ["gradnorms"] and not summary["errors"]  # LogNorm dropped it on inf


def test_a_diverged_sweep_point_is_never_the_best(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "results.jsonl").write_text(
        '{"name": "diverged", "nDCG@10": NaN}\n{"name": "a", "nDCG@10": 0.3}\n{"name": "b", "nDCG@10": 0.4}\n'
    )
    page = write_report(sweep).read_text()
    assert "Best run by nDCG@10: b (0.4) of 3" in page  # "diverged (nan)" before
