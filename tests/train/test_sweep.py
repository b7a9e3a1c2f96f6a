"""`rankscope sweep`: a grid of tiny runs into one results table and one figure, resumable after a kill;
a bad grid is refused, naming the field, before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from rankscope.errors import InputError
from rankscope.sweep import load_sweep, parse_only, read_results, run_sweep
from rankscope.train import callbacks


class Killed(Exception):
    pass


def sweep_file(tmp_path: Path, base: dict, grid: dict) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({**base, "grid": grid}, sort_keys=False))
    return path


def test_sweep_runs_survives_a_kill_and_skips_finished(
    make_spec, tmp_path: Path, monkeypatch, capsys, invoke
) -> None:
    base = make_spec(optim={"steps": 2, "save_every": 1}).dump()
    spec = sweep_file(tmp_path, base, {"method.rank": [1, 2]})
    out = tmp_path / "sweep"

    real = callbacks.DevEvalCallback.evaluate

    def kill_second_run(self, step: int):
        if "rank-2" in str(self.path) and step == 2:
            raise Killed  # the process dies after checkpoint-2 of the second run
        return real(self, step)

    monkeypatch.setattr(callbacks.DevEvalCallback, "evaluate", kill_second_run)
    with pytest.raises(Killed):
        run_sweep(spec, out)
    monkeypatch.setattr(callbacks.DevEvalCallback, "evaluate", real)
    assert [r["name"] for r in read_results(out)] == ["rank-1"]
    assert (out / "runs" / "rank-2" / "checkpoints" / "checkpoint-2").is_dir()

    assert invoke("sweep", str(spec), "--out", str(out)) == 2  # never silently restarts a started sweep
    assert "pass --resume" in capsys.readouterr().err

    assert invoke("sweep", str(spec), "--out", str(out), "--resume") in (0, None)
    printed = capsys.readouterr().out
    assert "ran 1, skipped 1" in printed and "comparison of nDCG@10" in printed
    rows = read_results(out)
    assert [r["name"] for r in rows] == ["rank-1", "rank-2"]
    for r, rank in zip(rows, (1, 2), strict=True):
        assert r["method.rank"] == rank and r["steps"] == 2 and r["seconds"] >= 0
        assert 0 <= r["nDCG@10"] <= 1 and "dev_loss" in r and r["run"] == f"runs/rank-{rank}"
        best = json.loads((out / r["run"] / "summary.json").read_text())["best_checkpoint"]
        assert (r["best_step"], r["best_value"]) == (best["step"], best["value"])  # what rerank --run uses
    assert (out / "comparison.png").stat().st_size > 1000
    second = out / "runs" / "rank-2"
    a, b = (
        load_file(str(d / "adapter_model.safetensors"))
        for d in (second / "adapter", second / "checkpoints" / "checkpoint-2")
    )
    assert all(torch.equal(a[k], b[k]) for k in a)  # resumed at its last checkpoint: no step past the end
    adapter = out / "runs" / "rank-1" / "adapter" / "adapter_model.safetensors"
    stamp = adapter.stat().st_mtime_ns

    assert invoke("sweep", str(spec), "--out", str(out), "--resume") in (0, None)
    assert "ran 0, skipped 2" in capsys.readouterr().out
    assert len(read_results(out)) == 2 and adapter.stat().st_mtime_ns == stamp

    assert invoke("report", str(out)) in (0, None)
    page = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert page == out / "report" / "report.html"
    assert "id='sweep'" in page.read_text() and "Best run by nDCG@10" in page.read_text()


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"method.rnak": [1, 2]}, "method.rnak: Extra inputs are not permitted"),
        ({"optim.lrr": [0.1]}, "grid: unknown field 'optim.lrr'"),
        ({"objectiv": ["listwise"]}, "grid: unknown field 'objectiv'"),
        (
            {"method.rank": [4, 0]},
            "grid point 1 (rank-0): method.rank: Input should be greater than or equal",
        ),
        ({"method.rank": []}, "grid.method.rank: List should have at least 1 item"),
        ({"objective": ["listwise", "pointwise-bce"], "train.group_size": [1]}, "'listwise' needs negatives"),
        # what needs the model: checked for every point before the first trains (point 0 trained before)
        ({"method.layers": ["0-1", "5-9"]}, "grid point 1 (layers-5-9): method.layers: bad layer spec '5-9'"),
        ({"model": ["./no-such-model"]}, "grid point 0 (model-no-such-model): model: no such model folder"),
    ],
)
def test_bad_grid_exits_2_naming_the_field(
    make_spec, tmp_path: Path, capsys, grid: dict, message: str, invoke
) -> None:
    spec = sweep_file(tmp_path, make_spec().dump(), grid)
    out = tmp_path / "sweep"
    assert invoke("sweep", str(spec), "--out", str(out)) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert not out.exists()  # nothing ran


def test_names_grid_order_and_only(make_spec, tmp_path: Path) -> None:
    grid = {
        "method.targets": [["attn"], ["attn", "mlp"]],
        "objective": ["ranknet", "listwise"],
        "optim.seed": [0],
        "train.seed": [1],
    }
    sweep = load_sweep(sweep_file(tmp_path, make_spec().dump(), grid))
    names = [p.name for p in sweep.points]
    assert names[:2] == [
        "targets-attn_objective-ranknet_optim-seed-0_train-seed-1",
        "targets-attn_objective-listwise_optim-seed-0_train-seed-1",
    ]
    assert sweep.points[3].spec.method.targets == ["attn", "mlp"]
    assert sweep.points[3].spec.optim.seed == 0 and sweep.points[3].spec.train.seed == 1
    assert parse_only("1/4") == (1, 4) and parse_only(None) is None
    for bad in ("4/4", "a/2", "1/0"):
        with pytest.raises(InputError, match="--only"):
            parse_only(bad)
    json.dumps(sweep.plan())  # plain data for sweep.yaml


def test_only_splits_the_grid_between_processes(make_spec, tmp_path: Path, monkeypatch) -> None:
    from rankscope.train import run as run_mod

    trained: list[str] = []

    def fake_train(spec, out, resume=False):  # what a finished run leaves for the sweep
        out.mkdir(parents=True)
        final = {"step": 2, "nDCG@10": spec.method.rank / 10, "seconds": 1.0}
        summary = {"steps": 2, "train_seconds": 1.5, "dev_seconds": 0.5, "final_dev": final}
        (out / "summary.json").write_text(json.dumps(summary))
        trained.append(out.name)

    monkeypatch.setattr(run_mod, "train", fake_train)
    spec = sweep_file(tmp_path, make_spec().dump(), {"method.rank": [1, 2, 3]})
    out = tmp_path / "sweep"
    first = run_sweep(spec, out, only=(0, 2))
    assert trained == ["rank-1", "rank-3"] and first.ran == ["rank-1", "rank-3"]
    second = run_sweep(spec, out, only=(1, 2))  # another process on the same folder
    assert trained[2:] == ["rank-2"]
    assert [r["name"] for r in second.rows] == ["rank-1", "rank-3", "rank-2"]
    assert second.rows[2] == {
        "name": "rank-2",
        "method.rank": 2,
        "nDCG@10": 0.2,
        "steps": 2,
        "seconds": 2.0,
        "run": "runs/rank-2",
    }
    assert second.figure == out / "comparison.png" and second.metric == "nDCG@10"
    other = sweep_file(tmp_path, make_spec().dump(), {"method.rank": [1, 5]})
    with pytest.raises(InputError, match="differs from the one this sweep started with"):
        run_sweep(other, out, resume=True)


def test_seeds_run_each_point_once_per_seed_and_compare_seed_averages(
    make_spec, tmp_path: Path, monkeypatch
) -> None:
    from rankscope.report.per_query import sweep_per_query
    from rankscope.train import run as run_mod

    qrels = {f"q{i}": {"good": 1, "bad": 0} for i in range(12)}
    (tmp_path / "qrels.txt").write_text(
        "".join(f"{q} 0 {d} {r}\n" for q, j in qrels.items() for d, r in j.items())
    )

    def fake_train(spec, out, resume=False):  # rank 8 ranks `good` first on more queries than rank 1
        out.mkdir(parents=True)
        (out / "dev_runs").mkdir()
        lines = []
        for i, q in enumerate(qrels):
            wins = i < (10 if spec.method.rank == 8 else 5) + spec.optim.seed
            lines.append(f"{q} Q0 good 1 {2 if wins else 1} r\n{q} Q0 bad 2 {1 if wins else 2} r\n")
        (out / "dev_runs" / "step-0.trec").write_text("x")  # an earlier step: not the final one
        (out / "dev_runs" / "step-2.trec").write_text("".join(lines))
        (out / "dev_qrels.txt").write_text((tmp_path / "qrels.txt").read_text())
        (out / "summary.json").write_text(json.dumps({"steps": 2, "final_dev": {"step": 2, "RR@10": 0.5}}))
        assert spec.train.seed == spec.optim.seed

    monkeypatch.setattr(run_mod, "train", fake_train)
    base = {**make_spec().dump(), "seeds": [0, 1]}
    spec = sweep_file(tmp_path, base, {"method.rank": [1, 8]})
    sweep = load_sweep(spec)
    assert [p.name for p in sweep.points] == [
        "rank-1_seed-0",
        "rank-1_seed-1",
        "rank-8_seed-0",
        "rank-8_seed-1",
    ]
    assert [(p.config, p.seed, p.spec.train.seed) for p in sweep.points[2:]] == [
        ("rank-8", 0, 0),
        ("rank-8", 1, 1),
    ]
    result = run_sweep(spec, tmp_path / "sweep")
    assert result.rows[1]["config"] == "rank-1" and result.rows[1]["seed"] == 1
    deltas = sweep_per_query(tmp_path / "sweep", n_boot=200)
    assert deltas is not None and deltas.result.names == ["rank-1", "rank-8"]
    rr = next(c for c in deltas.result.comparisons if c.measure == "RR@10")
    # rank 1 wins on 5 / 6 of 12 queries (seeds 0 / 1), rank 8 on 10 / 11: averaged per query over seeds
    assert rr.mean_baseline == pytest.approx((5 + 6 + 0.5 * 13) / 24) and rr.mean_run == pytest.approx(
        (10 + 11 + 0.5 * 3) / 24
    )
    assert deltas.seed_means["rank-8"]["RR@10"] == pytest.approx([(10 + 0.5 * 2) / 12, (11 + 0.5) / 12])
    spec.write_text(yaml.safe_dump({**base, "seeds": [0, 0], "grid": {"method.rank": [1]}}))
    with pytest.raises(InputError, match="each seed once"):
        load_sweep(spec)
    spec.write_text(yaml.safe_dump({**base, "grid": {"optim.seed": [1]}}))
    with pytest.raises(InputError, match="optim.seed"):
        load_sweep(spec)


def test_point_names_stay_unique_and_a_torn_results_line_is_mended(tmp_path: Path) -> None:
    from rankscope.sweep import _append, point_names

    grid = {"model": ["m/a/tiny", "m/b/tiny", "m/tiny-1"]}
    names = point_names(grid, [(v,) for v in grid["model"]])
    assert len(set(names)) == 3 and names[2] == "model-tiny-1"  # the second was "model-tiny-1" too
    (tmp_path / "results.jsonl").write_text('{"name": "a"}\n{"name": "b", "nDC')  # cut by a full disk
    _append(tmp_path, {"name": "c"})
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert lines[-1] == '{"name": "c"}' and len(lines) == 3  # glued onto the cut line before
    _append(tmp_path, {"name": "d"})
    assert (tmp_path / "results.jsonl").read_text().endswith('{"name": "c"}\n{"name": "d"}\n')


def test_a_resume_with_the_grid_keys_reordered_is_refused(make_spec, tmp_path: Path) -> None:
    from rankscope.sweep import _write_plan

    grid = {"optim.lr": [0.01], "method.rank": [2, 4]}
    out = tmp_path / "out"
    out.mkdir()
    _write_plan(out, load_sweep(sweep_file(tmp_path, make_spec().dump(), grid)))
    swapped = load_sweep(sweep_file(tmp_path, make_spec().dump(), dict(reversed(grid.items()))))
    with pytest.raises(InputError, match="differs from the one this sweep started with"):
        _write_plan(out, swapped)  # accepted before, then every point retrained under new names


def test_planned_names_are_load_sweeps(make_spec, tmp_path: Path) -> None:
    from rankscope.sweep import planned_names

    grid = {"method.rank": [2, 4], "optim.lr": [0.01, 0.02]}
    path = sweep_file(tmp_path, {**make_spec().dump(), "seeds": [0, 1]}, grid)
    assert [p.name for p in load_sweep(path).points] == planned_names(grid, [0, 1])
