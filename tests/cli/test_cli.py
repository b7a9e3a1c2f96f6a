"""The command line end to end on small files and a tiny random model: outputs, metrics, bad input."""

from __future__ import annotations

import gzip
import json

import pytest


def test_rerank_from_files_writes_outputs_equal_to_evaluate(
    invoke, files, llama_dir, tmp_path, capsys
) -> None:
    out = tmp_path / "out"
    code = invoke(
        "rerank",
        "--model",
        str(llama_dir),
        "--scorer",
        "yes-no",
        "--queries",
        str(files["queries"]),
        "--qrels",
        str(files["qrels"]),
        "--candidates",
        str(files["candidates"]),
        "--out",
        str(out),
    )
    assert code in (0, None)
    assert {p.name for p in out.iterdir()} >= {"run.trec", "metrics.json", "config.yaml"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"nDCG@10", "RR(rel=2)@10", "R(rel=2)@100"}
    lines = (out / "run.trec").read_text().splitlines()
    assert len(lines) == 3 and all(len(line.split()) == 6 for line in lines)
    capsys.readouterr()
    code = invoke("evaluate", "--run", str(out / "run.trec"), "--qrels", str(files["qrels"]), "--json")
    assert code in (0, None)
    assert json.loads(capsys.readouterr().out) == pytest.approx(metrics)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--model", "no-such-model", "--scorer", "yes-no"], "unknown model"),
        (["--model", "LLAMA", "--scorer", "nonsense"], "--scorer"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(
    invoke, files, llama_dir, tmp_path, capsys, args, needle
) -> None:
    out = tmp_path / "out"
    args = [str(llama_dir) if a == "LLAMA" else a for a in args]
    code = invoke(
        "rerank",
        *args,
        "--queries",
        str(files["queries"]),
        "--candidates",
        str(files["candidates"]),
        "--out",
        str(out),
    )
    assert code == 2
    assert needle in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".out.tmp-*"))


def test_malformed_qrels_line_named(invoke, files, llama_dir, tmp_path, capsys) -> None:
    files["qrels"].write_text("q1 Q0 d1 2\nq1 Q0 d2\n")
    out = tmp_path / "out"
    code = invoke(
        "rerank",
        "--model",
        str(llama_dir),
        "--scorer",
        "yes-no",
        "--queries",
        str(files["queries"]),
        "--qrels",
        str(files["qrels"]),
        "--candidates",
        str(files["candidates"]),
        "--out",
        str(out),
    )
    assert code == 2
    assert "qrels.txt:2" in capsys.readouterr().err
    assert not out.exists()


def test_qrels_of_other_queries_are_skipped_but_judging_none_is_refused(
    invoke, files, llama_dir, tmp_path, capsys, caplog
) -> None:
    """A subset of a collection's queries evaluates against its full qrels; qrels judging none of the
    queries stay an error."""
    args = ["rerank", "--model", str(llama_dir), "--scorer", "yes-no", "--queries", str(files["queries"])]
    args += ["--qrels", str(files["qrels"]), "--candidates", str(files["candidates"])]
    files["qrels"].write_text("q1 Q0 d1 2\nq9 Q0 d2 1\nq8 Q0 d2 1\n")
    with caplog.at_level("WARNING"):
        assert invoke(*args, "--out", str(tmp_path / "out")) in (0, None)
    warned = [r.getMessage() for r in caplog.records if "2" in r.getMessage() and "quer" in r.getMessage()]
    assert len(warned) == 1
    files["qrels"].write_text("q9 Q0 d2 1\n")
    assert invoke(*args, "--out", str(tmp_path / "none")) == 2
    assert "qrels.txt" in capsys.readouterr().err and not (tmp_path / "none").exists()


def test_empty_passage_refused(invoke, files, llama_dir, tmp_path, capsys) -> None:
    with gzip.open(files["candidates"], "wt") as f:
        f.write(
            json.dumps({"qid": "q1", "query": "x", "hits": [{"docid": "d1", "score": 1.0, "content": ""}]})
        )
    code = invoke(
        "rerank",
        "--model",
        str(llama_dir),
        "--scorer",
        "yes-no",
        "--queries",
        str(files["queries"]),
        "--candidates",
        str(files["candidates"]),
        "--out",
        str(tmp_path / "out"),
    )
    assert code == 2
    assert "cands.jsonl.gz:1" in capsys.readouterr().err


def test_missing_file_refused(invoke, tmp_path, capsys) -> None:
    code = invoke("evaluate", "--run", str(tmp_path / "nope.trec"), "--qrels", str(tmp_path / "nope.txt"))
    assert code == 2
    assert "nope" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--backend", "onnx"], "unknown backend 'onnx'"),
        (["--backend", "llama.cpp"], "scores a .gguf file"),
        (["--backend", "llama.cpp", "--stream"], "without --run or --stream"),
        (["--system-prompt", "", "--stream"], "--system-prompt applies to a zero-shot --model"),
    ],
)
def test_llama_cpp_backend_needs_a_gguf_model(
    invoke, files, llama_dir, tmp_path, capsys, extra, message
) -> None:
    args = ["rerank", "--model", str(llama_dir), "--scorer", "yes-no", "--queries", str(files["queries"])]
    code = invoke(*args, "--candidates", str(files["candidates"]), "--out", str(tmp_path / "out"), *extra)
    assert code == 2 and message in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_system_prompt_reaches_the_prompt_and_the_config(invoke, files, llama_dir, tmp_path) -> None:
    args = ["rerank", "--model", str(llama_dir), "--scorer", "yes-no", "--queries", str(files["queries"])]
    args += ["--candidates", str(files["candidates"]), "--qrels", str(files["qrels"]), "--depth", "2"]
    assert invoke(*args, "--out", str(tmp_path / "a")) == 0
    assert invoke(*args, "--out", str(tmp_path / "b"), "--system-prompt", "Judge relevance.") == 0
    assert "system_prompt: Judge relevance." in (tmp_path / "b" / "config.yaml").read_text()
    assert (tmp_path / "a" / "run.trec").read_text() != (tmp_path / "b" / "run.trec").read_text()
    assert (
        invoke(*args, "--scorer", "query-likelihood", "--out", str(tmp_path / "c"), "--system-prompt", "")
        == 2
    )


def test_an_output_folder_holding_the_inputs_is_refused(invoke, files, llama_dir, tmp_path, capsys) -> None:
    """`--out` the folder of the inputs (or one holding them) with --overwrite replaced it: the candidates,
    queries and qrels were deleted and the command exited 0; so was the model folder."""
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    given = ["--queries", str(files["queries"]), "--qrels", str(files["qrels"])]
    model = ["--model", str(llama_dir), "--scorer", "yes-no"]
    for args in (
        ["rerank", *model, *given, "--candidates", str(files["candidates"])],
        ["rerank", *model, *given, "--candidates", str(files["candidates"]), "--stream"],
        ["retrieve", *given, "--corpus", str(files["queries"])],
    ):
        assert invoke(*args, "--out", str(tmp_path), "--overwrite") == 2, args
        assert "would replace or lie inside the input" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    assert invoke("rerank", *model, *given, "--candidates", str(files["candidates"]),
                  "--out", str(llama_dir), "--overwrite") == 2  # fmt: skip
    assert (llama_dir / "config.json").is_file()
