"""`rankscope export RUN --format gguf`: the merged folder plus a parity-checked GGUF, or nothing."""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import patch

import pytest

from rankscope.errors import InputError
from rankscope.export_gguf import PARITY_FILE, GgufParityError, export_run_gguf
from rankscope.train.run import train


def test_export_gguf_from_a_run(make_spec, tmp_path: Path, capsys, invoke) -> None:
    run = tmp_path / "run"
    train(make_spec(max_doc_tokens=32), run)
    out = tmp_path / "merged"
    assert invoke("export", str(run), "--out", str(out), "--format", "gguf", "--quant", "q8_0") in (0, None)
    printed = " ".join(capsys.readouterr().out.split())
    assert "GGUF parity (yes-no, 36 pairs): max |diff|" in printed and "(needed 0.95)" in printed
    assert (out / "model-q8_0.gguf").is_file() and (out / "config.json").is_file()
    parity = json.loads((out / PARITY_FILE).read_text())
    assert parity["file"] == "model-q8_0.gguf" and parity["max_abs_diff"] <= 0.25
    # read as the GGUF file alone, not mixed with the merged folder's tokenizer beside it: same prompt tokens
    assert parity["same_tokens"] == 1.0

    # scored as a file, it reads the run's prompt and budgets from rankscope.json beside it, as parity did
    from rankscope.reranker import Reranker

    info = json.loads((out / "rankscope.json").read_text())
    gguf = Reranker.load(out / "model-q8_0.gguf", scorer="yes-no", device="cpu").scorer
    assert gguf.template.max_tokens["doc"] == info["max_doc_tokens"] == 32  # the default 192 before
    assert invoke("export", str(run), "--out", str(tmp_path / "x"), "--format", "onnx") == 2
    assert "unknown format 'onnx'" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_failed_parity_leaves_nothing(make_spec, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(make_spec(), run)
    with (
        patch("rankscope.export_gguf._permute", lambda w, n: w * 20.0),  # q, k written wrong
        pytest.raises(GgufParityError),
    ):
        export_run_gguf(run, tmp_path / "merged", "f16")
    assert not (tmp_path / "merged").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary folder either


def test_scorers_without_a_parity_check_are_refused(make_spec, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(make_spec(scorer="linear-head", method={"name": "lora", "rank": 4, "targets": ["mlp"]}), run)
    with pytest.raises(InputError, match="scorer 'linear-head' is not one of"):
        export_run_gguf(run, tmp_path / "merged")
