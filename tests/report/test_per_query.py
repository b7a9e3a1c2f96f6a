"""Per-query deltas in a sweep report, from a tiny synthetic sweep folder: run files scored against qrels,
stored per-query values, a run without either, and the report section they make."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rankscope.data.readers import write_trec_run
from rankscope.errors import InputError
from rankscope.evaluate.compare import compare
from rankscope.evaluate.metrics import per_query
from rankscope.report import write_report
from rankscope.report.per_query import (
    DEV_QRELS_FILE,
    DEV_RUN_FILE,
    PER_QUERY_FILE,
    run_per_query,
    sweep_per_query,
)

N_Q = 20


def qrels_and_runs() -> tuple[dict, dict[str, dict]]:
    rng = np.random.default_rng(1)
    qrels = {f"q{i}": {f"d{j}": int(rng.integers(0, 4)) for j in range(8)} for i in range(N_Q)}
    runs = {}
    for name, skill in (("rank-1", 0.2), ("rank-8", 2.0), ("rank-32", 0.3)):
        runs[name] = {q: {d: skill * r + rng.normal() for d, r in docs.items()} for q, docs in qrels.items()}
    return qrels, runs


def write_qrels(qrels: dict, path: Path) -> None:
    path.write_text("".join(f"{q} 0 {d} {r}\n" for q, docs in qrels.items() for d, r in docs.items()))


def sweep_folder(root: Path) -> tuple[Path, dict, dict[str, dict]]:
    """rank-1 and rank-8 hold dev_run.trec, rank-32 dev_per_query.json, rank-64 nothing per query."""
    qrels, runs = qrels_and_runs()
    sweep = root / "sweep"
    rows = []
    for i, name in enumerate(["rank-1", "rank-8", "rank-32", "rank-64"]):
        run_dir = sweep / "runs" / name
        run_dir.mkdir(parents=True)
        (run_dir / "summary.json").write_text(json.dumps({"steps": 10}))
        if name in ("rank-1", "rank-8"):
            write_trec_run(runs[name], run_dir / DEV_RUN_FILE)
        elif name == "rank-32":
            table = per_query(runs[name], qrels, ["nDCG@10", "RR(rel=2)@10"])
            (run_dir / PER_QUERY_FILE).write_text(json.dumps(table))
        rows.append({"name": name, "rank": 2**i, "nDCG@10": 0.3 + i / 10, "run": f"runs/{name}"})
    (sweep / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_qrels(qrels, sweep / DEV_QRELS_FILE)
    return sweep, qrels, runs


def test_sweep_per_query_matches_compare(tmp_path: Path) -> None:
    sweep, qrels, runs = sweep_folder(tmp_path)
    d = sweep_per_query(sweep, n_boot=500)
    assert d is not None
    assert d.result.names == ["rank-1", "rank-8", "rank-32"] and d.missing == ["rank-64"]
    assert d.sources == {
        "rank-1": f"runs/rank-1/{DEV_RUN_FILE}",
        "rank-8": f"runs/rank-8/{DEV_RUN_FILE}",
        "rank-32": f"runs/rank-32/{PER_QUERY_FILE}",
    }
    assert d.result.measures == ["nDCG@10", "RR(rel=2)@10"]  # graded qrels: what the dev evaluation uses
    direct = compare(list(runs.values()), qrels, ["nDCG@10", "RR(rel=2)@10"], names=list(runs), n_boot=500)
    assert d.result.to_json() == direct.to_json()
    assert all(c.p_holm is not None for c in d.result.comparisons)
    better = d.result.comparisons[0]
    assert better.run == "rank-8" and better.delta > 0 and better.p_value < 0.05


def test_baseline_choice_qrels_argument_and_too_few_runs(tmp_path: Path) -> None:
    sweep, qrels, _ = sweep_folder(tmp_path)
    (sweep / DEV_QRELS_FILE).unlink()
    d = sweep_per_query(sweep, qrels=qrels, baseline="rank-8", n_boot=100)
    assert d is not None and d.result.names == ["rank-8", "rank-1", "rank-32"]
    assert run_per_query(sweep / "runs" / "rank-1") is None  # a run file without qrels: nothing to score
    with pytest.raises(InputError, match="baseline"):
        sweep_per_query(sweep, qrels=qrels, baseline="rank-64")
    (sweep / "runs" / "rank-32" / PER_QUERY_FILE).unlink()
    assert sweep_per_query(sweep) is None  # only run files, no qrels anywhere: fewer than two runs


def test_report_shows_per_query_section(tmp_path: Path) -> None:
    sweep, _, _ = sweep_folder(tmp_path)
    page = write_report(sweep).read_text()
    summary = json.loads((sweep / "report" / "summary.json").read_text())
    assert "per_query" in summary["sections"] and not summary["errors"]
    assert {"per_query_nDCG_10.png", "per_query_RR_rel_2__10.png"} <= set(summary["figures"])
    assert (sweep / "report" / "per_query_nDCG_10.png").stat().st_size > 1000
    numbers = summary["numbers"]["per_query"]
    assert [c["run"] for c in numbers["comparisons"][:2]] == ["rank-8", "rank-32"]
    assert numbers["missing"] == ["rank-64"]
    assert "id='per_query'" in page and "rank-8 vs rank-1 on nDCG@10" in page and "rank-64" in page
    assert "finding" in page
    assert "smallest finding |delta|" in page and "queries for 80% power" in page


def test_report_of_a_sweep_without_per_query_data_has_no_section(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    (sweep / "runs" / "a").mkdir(parents=True)
    (sweep / "results.jsonl").write_text(json.dumps({"name": "a", "nDCG@10": 0.3}) + "\n")
    write_report(sweep)
    summary = json.loads((sweep / "report" / "summary.json").read_text())
    assert summary["sections"] == ["sweep"] and not summary["errors"]


def test_the_baseline_is_the_grids_first_point_whatever_finished_first(tmp_path: Path) -> None:
    import yaml

    sweep, _, _ = sweep_folder(tmp_path)
    lines = (sweep / "results.jsonl").read_text().splitlines()
    (sweep / "results.jsonl").write_text("\n".join([lines[1], lines[2], lines[0], lines[3]]) + "\n")
    plan = {"grid": {"method.rank": [1, 8, 32, 64]}, "model": "m"}  # names rank-1 ... as load_sweep gives
    (sweep / "sweep.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
    d = sweep_per_query(sweep, n_boot=100)
    assert d is not None and d.result.names == ["rank-1", "rank-8", "rank-32"]  # was rank-8 first


def test_one_runs_damaged_file_leaves_only_that_run_out(tmp_path: Path) -> None:
    sweep, _, _ = sweep_folder(tmp_path)
    (sweep / "runs" / "rank-32" / PER_QUERY_FILE).write_text("{not json")  # cut off from outside
    d = sweep_per_query(sweep, n_boot=100)
    assert d is not None and d.result.names == ["rank-1", "rank-8"]  # the whole comparison was lost before
    assert d.missing == ["rank-32", "rank-64"]
