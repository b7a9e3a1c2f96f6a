"""Every command is registered; compare, fuse, rerank --fuse and the --measures alias end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy import stats
from typer.main import get_command

from rankscope.cli import COMMANDS, app
from rankscope.data.registry import data_root
from rankscope.errors import InputError
from rankscope.evaluate.metrics import per_query

DATA = data_root()


def test_no_command_is_lost() -> None:
    assert sorted(get_command(app).commands) == sorted(COMMANDS)  # type: ignore[attr-defined]


def _run_file(path: Path, scores: dict[str, dict[str, float]]) -> Path:
    lines = []
    for q, docs in scores.items():
        ranked = sorted(docs.items(), key=lambda kv: -kv[1])
        lines += [f"{q} Q0 {d} {r} {s} t" for r, (d, s) in enumerate(ranked, 1)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def two_runs(tmp_path: Path) -> tuple[Path, Path, Path]:
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("".join(f"q{i} 0 d{i}a 1\nq{i} 0 d{i}b 0\n" for i in range(6)))
    base = {f"q{i}": {f"d{i}a": 1.0, f"d{i}b": 2.0} for i in range(6)}
    better = {f"q{i}": {f"d{i}a": 2.0 if i % 3 else 1.0, f"d{i}b": 1.5} for i in range(6)}
    return qrels, _run_file(tmp_path / "base.trec", base), _run_file(tmp_path / "better.trec", better)


def test_compare_json_matches_scipy(invoke, two_runs, capsys) -> None:
    qrels, base, better = two_runs
    assert invoke(
        "compare", str(base), str(better), "--qrels", str(qrels), "--measures", "RR@10", "--json"
    ) in (
        0,
        None,
    )
    rows = json.loads(capsys.readouterr().out)["comparisons"]
    assert len(rows) == 1 and rows[0]["measure"] == "RR@10"
    from rankscope.data.readers import read_qrels, read_trec_run

    q = read_qrels(qrels)
    a = per_query(read_trec_run(base), q, ["RR@10"])["RR@10"]
    b = per_query(read_trec_run(better), q, ["RR@10"])["RR@10"]
    ids = sorted(a)
    want = stats.ttest_rel([b[i] for i in ids], [a[i] for i in ids]).pvalue
    assert rows[0]["p_value"] == pytest.approx(want, abs=1e-12)
    assert (rows[0]["wins"], rows[0]["ties"], rows[0]["losses"]) == (4, 2, 0)


def test_compare_power_on_the_command_line(invoke, two_runs, capsys) -> None:
    qrels, base, better = two_runs
    args = ["compare", str(base), str(better), "--qrels", str(qrels), "--measures", "RR@10", "--power"]
    assert invoke(*args) in (0, None)
    assert "sensitivity (paired t-test" in capsys.readouterr().out
    assert invoke(*args, "--json") in (0, None)
    (row,) = json.loads(capsys.readouterr().out)["comparisons"]
    assert {"p_value", "sd_delta", "min_detectable", "queries_needed"} <= set(row)


def test_compare_pairs_on_the_command_line(invoke, two_runs, tmp_path, capsys) -> None:
    qrels, base, better = two_runs
    third = _run_file(tmp_path / "third.trec", {f"q{i}": {f"d{i}a": 3.0, f"d{i}b": 1.0} for i in range(6)})
    args = ["compare", str(base), str(better), str(third), "--qrels", str(qrels), "-m", "RR@10", "--pairs"]
    assert invoke(*args, "--json", "--power") in (0, None)
    rows = json.loads(capsys.readouterr().out)["comparisons"]
    assert [(r["baseline"], r["run"]) for r in rows] == [
        ("base", "better"),
        ("base", "third"),
        ("better", "third"),
    ]
    assert all("p_holm" in r and "min_detectable" in r for r in rows)
    assert rows[2]["delta"] == pytest.approx(rows[1]["delta"] - rows[0]["delta"])
    assert invoke(*args, "--power") in (0, None)
    out = capsys.readouterr().out
    assert "third vs better" in out and "RR@10 third vs better: per-query sd" in out


def test_datasets_lists_what_loads_and_marks_what_is_missing(invoke, tmp_path, monkeypatch, capsys) -> None:
    import shutil

    from rankscope.data.registry import data_root

    root = tmp_path / "data"
    shutil.copytree(data_root() / "scifact", root / "scifact")  # one dataset folder only
    monkeypatch.setenv("RANKSCOPE_DATA", str(root))
    from rankscope.cli.app import console

    monkeypatch.setattr(console, "width", 80)
    assert invoke("datasets") in (0, None)  # exited 2 at the first missing dataset before
    out = capsys.readouterr().out
    flat = out.replace("\n", "")  # lines wrapped at 80 columns
    assert "scifact-test" in out and "missing:" in out and "set RANKSCOPE_DATA" in flat
    assert f"dl19 missing: {root}" in flat  # the reason whole, below the table
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80


@pytest.mark.skipif(not (DATA / "trec-dl-2019-passage").is_dir(), reason="the shared data is not present")
@pytest.mark.parametrize("width", [80, 200])
def test_datasets_reads_whole_in_a_narrow_terminal(invoke, monkeypatch, capsys, width: int) -> None:
    """At 80 columns every column was cut to 'queri…', 'docume…', 'MS MARCO non-c…': the licenses now go
    below a narrow table, whole, and the names and numbers are never cut."""
    from rankscope.cli.app import console

    monkeypatch.setattr(console, "width", width)
    assert invoke("datasets") in (0, None)
    out = capsys.readouterr().out
    assert "…" not in out and "queries" in out and "judged" in out and "msmarco-dev600-train" in out
    assert max(len(line) for line in out.splitlines()) <= width
    assert ("license MS MARCO non-commercial research: dl19, dl21" in out) == (width < 150)
    assert "Apache-2.0 (rlhn) + MS MARCO non-commercial research" in out


def test_compare_names_its_own_options(invoke, two_runs, capsys) -> None:
    qrels, base, better = two_runs
    args = ["compare", str(base), str(better), "--qrels", str(qrels)]
    assert invoke(*args, "--name", "a") == 2
    assert "--name: 1 --name for 2 runs" in capsys.readouterr().err
    assert invoke(*args, "--name", "a", "--name", "a") == 2
    assert "--name: run names must differ" in capsys.readouterr().err
    assert invoke(*args, "--bootstrap", "0") == 2
    assert "--bootstrap" in capsys.readouterr().err


def test_compare_needs_two_runs(invoke, two_runs, capsys) -> None:
    qrels, base, _ = two_runs
    assert invoke("compare", str(base), "--qrels", str(qrels)) == 2
    assert "at least two runs" in capsys.readouterr().err


def test_fuse_chooses_on_dev_and_rerank_uses_the_recorded_weight(
    invoke, files, llama_dir, tmp_path, capsys, caplog
) -> None:
    out = tmp_path / "rr"
    common = ["--queries", str(files["queries"]), "--qrels", str(files["qrels"])]
    common += ["--candidates", str(files["candidates"])]
    assert invoke("rerank", "--model", str(llama_dir), "--scorer", "yes-no", *common, "--out", str(out)) in (
        0,
        None,
    )
    choice = tmp_path / "fusion.json"
    code = invoke(
        "fuse",
        "--reranked",
        str(out / "run.trec"),
        "--first-stage",
        str(files["candidates"]),
        "--qrels",
        str(files["qrels"]),
        "--out",
        str(choice),
    )
    assert code in (0, None)
    recorded = json.loads(choice.read_text())
    assert 0 <= recorded["weight"] <= 1 and len(recorded["table"]) == 11 and recorded["dev"]["qrels"]
    assert recorded["first_stage_depth"] is None and recorded["first_stage_longest"] == 2  # whole lists
    fused = tmp_path / "fused"
    args = ["rerank", "--model", str(llama_dir), "--scorer", "yes-no", *common, "--out", str(fused)]
    assert invoke(*args, "--fuse", "interpolate", "--fuse-weight", str(choice)) in (0, None)
    info = json.loads((fused / "fusion.json").read_text())
    assert info["weight"] == recorded["weight"] and info["chosen"]["measure"] == "nDCG@10"
    assert (fused / "run.reranker.trec").read_text() == (out / "run.trec").read_text()
    # fusing the two existing runs with the recorded weight ranks as rerank --fuse did
    applied = tmp_path / "applied.trec"
    code = invoke(
        "fuse", "--reranked", str(out / "run.trec"), "--first-stage", str(files["candidates"]),
        "--weight", str(choice), "--out", str(applied),
    )  # fmt: skip
    assert code in (0, None)
    ranked = [ln.split()[:3] for ln in applied.read_text().splitlines()]
    assert ranked == [ln.split()[:3] for ln in (fused / "run.trec").read_text().splitlines()]
    assert invoke("fuse", "--reranked", str(out / "run.trec"), "--first-stage", "x", "--out", "y") == 2
    # a weight chosen on another cut of the first stage is said, and recorded beside the fused run (rerank
    # --depth 1 fused each query's top 1 with a weight chosen on their top 2 without a word); another
    # method is refused
    assert invoke(*args[:-1], str(tmp_path / "d1"), "--depth", "1", "--fuse", "interpolate",
                  "--fuse-weight", str(choice)) in (0, None)  # fmt: skip
    note = "fusing whole first-stage lists (up to 2 documents a query), and this fusion reads the top 1"
    assert note in caplog.text and note in json.loads((tmp_path / "d1" / "fusion.json").read_text())["note"]
    code = invoke(
        "fuse", "--reranked", str(out / "run.trec"), "--first-stage", str(files["candidates"]),
        "--weight", str(choice), "--method", "rrf", "--out", str(tmp_path / "x.trec"),
    )  # fmt: skip
    assert code == 2 and "pass --method interpolate" in capsys.readouterr().err  # it ran rrf before
    # weight 1 ranks exactly as the reranker alone
    one = tmp_path / "one"
    assert invoke(*args[:-1], str(one), "--fuse", "interpolate", "--fuse-weight", "1") in (0, None)
    assert json.loads((one / "metrics.json").read_text()) == json.loads((out / "metrics.json").read_text())


def test_fuse_with_a_number_uses_the_method_given(invoke, two_runs, tmp_path, capsys) -> None:
    from rankscope.data.readers import read_trec_run
    from rankscope.evaluate.fusion import fuse

    _, base, better = two_runs
    out = tmp_path / "rrf.trec"
    args = ["fuse", "--reranked", str(better), "--first-stage", str(base), "--weight", "0.3"]
    assert invoke(*args, "--method", "rrf", "--out", str(out)) in (0, None)
    assert "(rrf, k=60, reranker weight 0.30)" in capsys.readouterr().out
    got = read_trec_run(out)
    want = fuse(better, base, 0.3, method="rrf")
    assert {q: sorted(d, key=d.get) for q, d in got.items()} == {
        q: sorted(d, key=d.get) for q, d in want.items()
    }
    assert got != read_trec_run(_interpolated(invoke, args, tmp_path))


def test_fuse_refuses_a_norm_for_rrf_and_gzips_a_gz_name(invoke, two_runs, tmp_path, capsys) -> None:
    """--norm with rrf was ignored without a word (rrf reads ranks), and a fused run named .gz was written
    as plain text that its own reader could not read back."""
    from rankscope.data.readers import read_trec_run

    qrels, base, better = two_runs
    choose = ["fuse", "--reranked", str(better), "--first-stage", str(base), "--qrels", str(qrels)]
    assert invoke(*choose, "--out", str(tmp_path / "fusion.json.gz")) == 2  # plain JSON under a .gz name
    assert "give a name without .gz" in capsys.readouterr().err
    args = ["fuse", "--reranked", str(better), "--first-stage", str(base), "--weight"]
    assert invoke(*args, "0.3", "--method", "rrf", "--norm", "zscore", "--out", str(tmp_path / "a")) == 2
    assert "--norm: rrf fuses ranks, so no normalisation applies" in capsys.readouterr().err
    choice = tmp_path / "rrf.json"
    choice.write_text(json.dumps({"weight": 0.3, "method": "rrf", "norm": "minmax"}))
    assert invoke(*args, str(choice), "--norm", "zscore", "--out", str(tmp_path / "b")) == 2
    assert "drop --norm zscore" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    for name in ("fused.jsonl", "fused.jsonl.gz"):  # a TREC run under a candidates name: compare refused it
        assert invoke(*args, str(choice), "--out", str(tmp_path / name)) == 2
        assert "not a candidates .jsonl" in capsys.readouterr().err and not (tmp_path / name).exists()
    gz = tmp_path / "fused.trec.gz"
    assert invoke(*args, str(choice), "--out", str(gz)) in (0, None)
    assert gz.read_bytes()[:2] == b"\x1f\x8b"
    assert read_trec_run(gz) == read_trec_run(_fused(invoke, [*args, str(choice)], tmp_path))


def _fused(invoke, args: list[str], tmp_path: Path) -> Path:
    out = tmp_path / "fused.trec"
    assert invoke(*args, "--out", str(out)) in (0, None)
    return out


def _interpolated(invoke, args: list[str], tmp_path: Path) -> Path:
    out = tmp_path / "interpolate.trec"
    assert invoke(*args, "--out", str(out)) in (0, None)
    return out


def test_a_missing_scorer_or_fuse_is_named(invoke, files, tmp_path, capsys) -> None:
    """`--model` without `--scorer` blamed --run; `--fuse-weight` without `--fuse` was silently ignored."""
    cands = ["--candidates", str(files["candidates"]), "--out", str(tmp_path / "x")]
    assert invoke("rerank", "--model", "x", *cands) == 2
    assert "--scorer: --model needs --scorer" in capsys.readouterr().err
    assert invoke("rerank", *cands) == 2
    assert "--model: give --model and --scorer, or --run" in capsys.readouterr().err
    assert invoke("rerank", "--model", "x", "--scorer", "yes-no", "--fuse-weight", "0.5", *cands) == 2
    assert "--fuse-weight needs --fuse" in capsys.readouterr().err and not (tmp_path / "x").exists()
    export = tmp_path / "export"  # an exported folder says its own scorer
    export.mkdir()
    (export / "rankscope.json").write_text('{"scorer": "yes-no"}')
    from rankscope.trained import exported_scorer

    assert exported_scorer(str(export)) == "yes-no" and exported_scorer(str(tmp_path)) is None
    # and a .gguf written into it (the CLI asked for --scorer there, where Reranker.load did not)
    assert exported_scorer(str(export / "model.gguf")) == "yes-no"
    assert exported_scorer(str(tmp_path / "model.gguf")) is None


def test_counts_below_one_are_refused_before_any_work(invoke, files, tmp_path, capsys) -> None:
    from rankscope.pipeline import load_inputs

    args = ["rerank", "--model", "x", "--scorer", "yes-no", "--candidates", str(files["candidates"])]
    for option in ("--depth", "--max-queries", "--pairwise-top"):
        assert invoke(*args, option, "0", "--out", str(tmp_path / "x")) == 2
        assert option in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert invoke("retrieve", "--dataset", "scifact-test", "--k", "-2", "--out", str(tmp_path / "r")) == 2
    # a bad measure name stops before the model is even looked up (it stopped after all the scoring)
    assert invoke(*args, "-m", "bogus", "--out", str(tmp_path / "x")) == 2
    assert "unknown measure 'bogus'" in capsys.readouterr().err and not (tmp_path / "x").exists()
    with pytest.raises(InputError, match="--max-queries: max_queries must be at least 1"):
        load_inputs(candidates=str(files["candidates"]), queries=str(files["queries"]), max_queries=0)
    with pytest.raises(InputError, match="--depth: the depth must be at least 1"):
        load_inputs(candidates=str(files["candidates"]), queries=str(files["queries"]), depth=0)


def test_fuse_never_overwrites_unasked(invoke, two_runs, tmp_path, capsys) -> None:
    _, base, better = two_runs
    before = base.read_text()
    args = ["fuse", "--reranked", str(better), "--first-stage", str(base), "--weight", "0.5"]
    assert invoke(*args, "--out", str(base)) == 2  # its own input
    assert "--out is one of the inputs" in capsys.readouterr().err and base.read_text() == before
    assert invoke(*args, "--out", str(tmp_path)) == 2
    assert "is a folder" in capsys.readouterr().err
    out = tmp_path / "fused.trec"
    assert invoke(*args, "--out", str(out)) in (0, None)
    assert invoke(*args, "--out", str(out)) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert invoke(*args, "--out", str(out), "--overwrite") in (0, None)
    assert invoke(*args[:-1], "1.5", "--out", str(tmp_path / "w.trec")) == 2
    assert "--weight: the weight must lie in [0, 1]" in capsys.readouterr().err
    assert invoke(*args, "--norm", "bogus", "--out", str(tmp_path / "n.trec")) == 2
    assert "--norm: unknown normalisation" in capsys.readouterr().err


def test_rerank_refuses_a_weight_chosen_for_another_fusion(
    invoke, files, llama_dir, tmp_path, capsys
) -> None:
    choice = tmp_path / "fusion.json"
    choice.write_text(json.dumps({"weight": 0.8, "method": "rrf", "norm": "minmax"}))
    args = ["rerank", "--model", str(llama_dir), "--scorer", "yes-no", "--queries", str(files["queries"])]
    args += ["--candidates", str(files["candidates"]), "--out", str(tmp_path / "x")]
    assert invoke(*args, "--fuse", "interpolate", "--fuse-weight", str(choice)) == 2
    err = capsys.readouterr().err
    assert "fusion.json" in err and "pass --fuse rrf" in err and not (tmp_path / "x").exists()
    choice.write_text(json.dumps({"weight": 0.8, "method": "interpolate", "norm": "zscore"}))
    assert invoke(*args, "--fuse", "interpolate", "--fuse-norm", "minmax", "--fuse-weight", str(choice)) == 2
    assert "pass --fuse-norm zscore" in capsys.readouterr().err and not (tmp_path / "x").exists()
    # not given, the recorded normalisation is the one used (it was refused: the default was minmax)
    assert invoke(*args, "--fuse", "interpolate", "--fuse-weight", str(choice)) in (0, None)
    assert json.loads((tmp_path / "x" / "fusion.json").read_text())["norm"] == "zscore"
    # rrf reads ranks: a normalisation given with it was ignored unsaid
    assert invoke(*args[:-1], str(tmp_path / "y"), "--fuse", "rrf", "--fuse-weight", "0.5",
                  "--fuse-norm", "zscore") == 2  # fmt: skip
    assert "--fuse-norm: rrf fuses ranks" in capsys.readouterr().err and not (tmp_path / "y").exists()


def test_bad_fusion_weight(invoke, files, llama_dir, tmp_path, capsys) -> None:
    args = ["rerank", "--model", str(llama_dir), "--scorer", "yes-no", "--queries", str(files["queries"])]
    args += ["--candidates", str(files["candidates"]), "--out", str(tmp_path / "x"), "--fuse", "rrf"]
    assert invoke(*args, "--fuse-weight", "1.5") == 2
    assert "[0, 1]" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_compare_averages_a_group_of_runs(invoke, two_runs, tmp_path, capsys) -> None:
    """Files joined by commas are one run: each query's value is their mean (seeds averaged)."""
    qrels, base, better = two_runs
    group = f"{better},{base}"
    assert invoke("compare", str(base), group, "--qrels", str(qrels), "-m", "RR@10", "--json") in (0, None)
    row = json.loads(capsys.readouterr().out)["comparisons"][0]
    assert row["run"] == "better (mean of 2)"
    assert row["mean_run"] == pytest.approx((0.5 + 5 / 6) / 2)  # base RR 0.5, better 5/6
    assert (row["wins"], row["ties"], row["losses"]) == (4, 2, 0)
    missing = f"{better},{tmp_path / 'nope.trec'}"
    assert invoke("compare", str(base), missing, "--qrels", str(qrels)) == 2
    assert "nope.trec" in capsys.readouterr().err


def test_the_cli_evaluate_is_the_api(invoke, tmp_path: Path, capsys) -> None:
    """`rankscope evaluate` calls rankscope.evaluate: a candidates file that shares no query with the qrels
    is refused as the API refuses it (the CLI read it as a result: every measure 0)."""
    import json

    cands = tmp_path / "c.jsonl"
    cands.write_text(json.dumps({"qid": "q9", "query": "x", "hits": [{"docid": "a", "score": 1.0}]}) + "\n")
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 a 1\n")
    assert invoke("evaluate", "--qrels", str(qrels), "--candidates", str(cands)) == 2
    assert "shares no query with the qrels" in capsys.readouterr().err
