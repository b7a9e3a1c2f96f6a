"""`rankscope train` and `rankscope export` end to end through the console entry point."""

from __future__ import annotations

import json
from pathlib import Path

import yaml


def test_train_export_and_bad_input(make_spec, tmp_path: Path, capsys, invoke) -> None:
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(make_spec(optim={"steps": 2}).dump()))
    run = tmp_path / "run"
    assert invoke("train", str(spec_file), "--out", str(run)) in (0, None)
    printed = capsys.readouterr().out
    assert "dev set per checkpoint" in printed and "tokens/s" in printed
    assert yaml.safe_load((run / "spec.yaml").read_text())["optim"]["steps"] == 2

    assert invoke("train", str(spec_file), "--out", str(run)) == 2  # never overwrites silently
    assert "not empty" in capsys.readouterr().err
    summary = (run / "summary.json").read_text()
    assert invoke("train", "--out", str(run), "--resume") in (0, None)  # already finished: nothing to redo
    assert (run / "summary.json").read_text() == summary  # it was rewritten with tokens_seen 0 and no dev
    assert "2 steps in" in capsys.readouterr().out
    spec_file.write_text(spec_file.read_text().replace("lr: 0.02", "lr: 0.03"))
    assert invoke("train", str(spec_file), "--out", str(run), "--resume") == 2
    assert "optim.lr is 0.03 here, 0.02 there" in " ".join(capsys.readouterr().err.split())
    spec_file.write_text(spec_file.read_text().replace("lr: 0.03", "lr: 0.02"))

    assert invoke("export", str(run), "--out", str(tmp_path / "merged")) in (0, None)
    assert (tmp_path / "merged" / "model.safetensors").is_file()

    spec_file.write_text(spec_file.read_text().replace("lr: 0.02", "lr: fast"))
    assert invoke("train", str(spec_file), "--out", str(tmp_path / "other")) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "spec.yaml: optim.lr: Input should be a valid number" in err


def test_rerank_with_a_trained_run(make_spec, triples_file: Path, tmp_path: Path, capsys, invoke) -> None:
    from rankscope.data.readers import read_trec_run
    from rankscope.evaluate.rerank import rerank
    from rankscope.pipeline import load_inputs
    from rankscope.train.run import train
    from rankscope.trained import load_run_scorer

    run = tmp_path / "run"
    train(make_spec(optim={"steps": 2, "save_every": 1}), run)
    queries, qrels, corpus = tmp_path / "q.tsv", tmp_path / "qrels.txt", tmp_path / "corpus.tsv"
    queries.write_text("q1\tcats sleep a lot\nq2\ttrains run on rails\n")
    corpus.write_text("d1\tcats sleep most of the day\nd2\ttrains need rails\nd3\train falls from clouds\n")
    qrels.write_text("q1 0 d1 1\nq2 0 d2 1\n")
    files = ["--queries", str(queries), "--qrels", str(qrels), "--corpus", str(corpus), "--depth", "3"]
    out = tmp_path / "rerank"
    assert invoke("rerank", "--run", str(run), "--dtype", "float32", "--out", str(out), *files) in (0, None)
    written = read_trec_run(out / "run.trec")
    scorer, _ = load_run_scorer(run)
    inputs = load_inputs(None, "bm25", queries=str(queries), qrels=str(qrels), corpus=str(corpus), depth=3)
    expected = rerank(
        scorer, inputs.candidates, inputs.collection.queries, 3, inputs.collection.corpus, False
    )
    for q, docs in expected.items():
        assert written[q].keys() == docs.keys()
        for d, s in docs.items():
            assert abs(written[q][d] - s) < 1e-4

    ckpt = run / "checkpoints" / "checkpoint-1"
    out2 = tmp_path / "rerank-ckpt"
    assert invoke("rerank", "--run", str(run), "--adapter", str(ckpt), "--out", str(out2), *files) in (
        0,
        None,
    )
    assert (out2 / "metrics.json").is_file()
    # each evaluation of the run is kept in RUN/evals/ and shown on its model card; another checkpoint's
    # is kept beside the default (best) checkpoint's, not over it
    default = json.loads((run / "evals" / "bm25.json").read_text())
    assert default["checkpoint"] is None and "nDCG@10" in default
    kept = json.loads((run / "evals" / "bm25-checkpoint-1.json").read_text())
    assert kept["checkpoint"] == str(ckpt) and "nDCG@10" in kept
    # the same checkpoint named by its step is the same evaluation
    assert invoke(
        "rerank", "--run", str(run), "--checkpoint", "1", "--out", str(tmp_path / "by-step"), *files
    ) in (
        0,
        None,
    )
    assert json.loads((run / "evals" / "bm25-checkpoint-1.json").read_text())["checkpoint"] == "1"
    assert "| bm25 |" in (run / "adapter" / "README.md").read_text()

    # a document budget other than the run's own: scores as load_run_scorer with that budget does
    out3 = tmp_path / "rerank-doc2"
    assert invoke(
        "rerank", "--run", str(run), "--max-doc-tokens", "2", "--dtype", "float32", "--out", str(out3), *files
    ) in (
        0,
        None,
    )
    short, spec = load_run_scorer(run, max_doc_tokens=2)
    assert (
        spec.max_doc_tokens == 2 and yaml.safe_load((out3 / "config.yaml").read_text())["max_doc_tokens"] == 2
    )
    expected = rerank(short, inputs.candidates, inputs.collection.queries, 3, inputs.collection.corpus, False)
    truncated = read_trec_run(out3 / "run.trec")
    assert all(abs(truncated[q][d] - s) < 1e-4 for q, docs in expected.items() for d, s in docs.items())
    assert truncated != written
    assert json.loads((run / "evals" / "bm25-doc2.json").read_text())["max_doc_tokens"] == 2
    out4 = tmp_path / "rerank-fused"
    fused = ["--fuse", "interpolate", "--fuse-weight", "0.5", "--dtype", "float32", "--out", str(out4)]
    assert invoke("rerank", "--run", str(run), *fused, *files) in (0, None)
    assert json.loads((run / "evals" / "bm25-fused-interpolate.json").read_text())["fused"] == "interpolate"
    assert json.loads((run / "evals" / "bm25.json").read_text())["fused"] is None

    bad = tmp_path / "bad"
    assert invoke("rerank", "--run", str(run), "--max-doc-tokens", "0", "--out", str(bad), *files) == 2
    assert "--max-doc-tokens: a token budget is at least 1, got 0" in " ".join(
        capsys.readouterr().err.split()
    )
    assert invoke("rerank", "--run", str(run), "--model", "smollm2-135m", "--out", str(bad), *files) == 2
    assert invoke("rerank", "--out", str(bad), *files) == 2
    assert invoke("rerank", "--run", str(tmp_path), "--out", str(bad), *files) == 2
    assert "--run" in capsys.readouterr().err
    assert not bad.exists()


def test_bad_input_found_while_setting_up_leaves_nothing_behind(
    make_spec, tmp_path: Path, capsys, invoke
) -> None:
    spec_file = tmp_path / "bad.yaml"
    bad = make_spec(method={"name": "lora", "rank": 4, "alpha": 8, "layers": "5-15"}, optim={"steps": 1})
    spec_file.write_text(yaml.safe_dump(bad.dump()))
    run = tmp_path / "run"
    assert invoke("train", str(spec_file), "--out", str(run)) == 2  # the tiny model has 2 layers
    assert "method.layers: bad layer spec" in capsys.readouterr().err and not run.exists()
    run.mkdir()  # a folder the user made: emptied again, kept
    assert invoke("train", str(spec_file), "--out", str(run)) == 2
    assert run.is_dir() and not any(run.iterdir())
    spec_file.write_text(yaml.safe_dump(make_spec(optim={"steps": 1}).dump()))
    assert invoke("train", str(spec_file), "--out", str(run)) in (0, None)  # the corrected spec trains there
