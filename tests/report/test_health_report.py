"""The report shows the health verdicts with their curves, and says so when a run gained nothing instead of
printing shares of a gain that is not there."""

from __future__ import annotations

import json
from pathlib import Path

from rankscope.inspect.ablation import AblationResult, AblationRow, WindowSweep, save_ablation
from rankscope.report import write_report
from rankscope.report.findings import ablation_findings


def lost_quality() -> AblationResult:
    rows = [
        AblationRow("attention-only", "preset", None, ["mlp.up"], 4, {"nDCG@10": 0.28}, {"nDCG@10": -0.08}),
        AblationRow("q-only", "preset", None, ["attn.k"], 4, {"nDCG@10": 0.293}, {"nDCG@10": -0.0}),
    ]
    sweep = WindowSweep("keep", 2, [2], [0, 2], [[0.5, -0.2]])
    return AblationResult(
        ["nDCG@10"], "nDCG@10", 4, 8, {"nDCG@10": 0.293}, {"nDCG@10": 0.276}, rows, {}, sweep
    )


def test_no_gain_means_no_shares() -> None:
    f = ablation_findings(lost_quality())
    text = " ".join(f.sentences)
    assert "gain -0.017" in text and "did not improve nDCG@10 over zero-shot" in text
    assert "% of the gain" not in text and f.numbers["preset_share"] == {}


def test_report_shows_health_verdicts_curves_and_no_gain(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    ndcg = {0: 0.293, 10: 0.31, 20: 0.30, 30: 0.276}
    spread = {0: 1.0, 10: 0.8, 20: 0.3, 30: 0.2}
    rows = [
        {
            "step": s,
            "nDCG@10": v,
            "dev_loss": 1.0,
            "health": {
                "pos_mean": 1.0,
                "pos_std": 0.5,
                "neg_mean": 0.5,
                "neg_std": 0.5,
                "auc": 0.6,
                "margin": 0.5,
                "spread": spread[s],
                "queries": 4,
            },
        }
        for s, v in ndcg.items()
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "loss.jsonl").write_text(
        "".join(json.dumps({"step": i, "loss": 2 - i / 30}) + "\n" for i in range(1, 31))
    )
    best = {
        "step": 10,
        "measure": "nDCG@10",
        "value": 0.31,
        "folder": "best",
        "source": "checkpoints/checkpoint-10",
    }
    (run / "summary.json").write_text(json.dumps({"steps": 30, "best_checkpoint": best}))
    save_ablation(lost_quality(), run / "ablation.json")
    page = write_report(run).read_text()
    summary = json.loads((run / "report" / "summary.json").read_text())
    assert summary["errors"] == {} and "health" in summary["sections"] and "health.png" in summary["figures"]
    assert "Verdict: scores collapsing at step 20 (within-query spread 1 -&gt; 0.3)." in page
    assert "overfitting from step 10" in page
    assert "no gain over zero-shot (dev nDCG@10 0.2930 at step 0, 0.2760 at step 30)" in page
    assert "Best checkpoint: step 10 (nDCG@10 0.3100)." in page
    assert "of the gain" not in page and "ablation.png" not in summary["figures"]
    assert "did not improve nDCG@10 over zero-shot" in page
