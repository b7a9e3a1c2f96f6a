"""`rankscope rerank` tells how many documents its document budget cut."""

from __future__ import annotations

import json
from pathlib import Path


def test_rerank_reports_the_documents_cut(invoke, files, llama_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "rr"
    args = ["rerank", "--model", str(llama_dir), "--scorer", "query-likelihood", "--candidates"]
    args += [str(files["candidates"]), "--qrels", str(files["qrels"]), "--out", str(out)]
    assert invoke(*args, "--max-query-tokens", "8", "--max-doc-tokens", "3") in (0, None)
    cut = json.loads((out / "timing.json").read_text())["docs_cut"]
    assert cut["budget"] == 3 and cut["docs"] == 3 and cut["cut"] == 3 and cut["share"] == 1.0
    assert "documents cut at the document budget (3 tokens): 3 of 3" in capsys.readouterr().out
    wide = tmp_path / "wide"
    assert invoke(*args[:-1], str(wide), "--max-query-tokens", "8", "--max-doc-tokens", "400") in (0, None)
    assert json.loads((wide / "timing.json").read_text())["docs_cut"]["cut"] == 0
    assert "documents cut" not in capsys.readouterr().out


def test_rerank_stream_reports_the_documents_cut_as_the_whole_file_path(
    invoke, files, llama_dir: Path, tmp_path: Path, capsys
) -> None:
    args = ["rerank", "--model", str(llama_dir), "--scorer", "query-likelihood", "--candidates"]
    args += [str(files["candidates"]), "--qrels", str(files["qrels"]), "--max-doc-tokens", "3"]
    whole, streamed = tmp_path / "whole", tmp_path / "streamed"
    assert invoke(*args, "--out", str(whole)) in (0, None)
    capsys.readouterr()
    assert invoke(*args, "--out", str(streamed), "--stream") in (0, None)
    cut = json.loads((streamed / "timing.json").read_text())["docs_cut"]
    assert cut == json.loads((whole / "timing.json").read_text())["docs_cut"]
    assert (
        cut["cut"] == 3
        and "documents cut at the document budget (3 tokens): 3 of 3" in capsys.readouterr().out
    )
