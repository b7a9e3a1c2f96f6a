"""Security: checkpoints load with torch.load(weights_only=True) only, the HTML report escapes text from
files (queries, run names, summaries), `data:` paths stay in the data folder, spec YAML is read with
yaml.safe_load (no Python objects), and a model's own code runs only when asked."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

import rankscope
from rankscope.config import ExperimentSpec, load_spec
from rankscope.data.registry import resolve_data_path
from rankscope.errors import InputError
from rankscope.report import write_report

SRC = Path(rankscope.__file__).parent
PAYLOADS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]


def test_no_torch_load_without_weights_only() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text()
        for m in re.finditer(r"torch\.load\(", text):
            call = text[m.start() : text.find(")", m.start()) + 1]
            if "weights_only=True" not in call:
                line = text.count("\n", 0, m.start()) + 1
                found.append(f"{path.relative_to(SRC)}:{line}")
    assert not found, f"torch.load without weights_only=True: {found}"


def test_report_escapes_queries_and_names(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    spec = {"model": "tiny", "dev": {"queries": PAYLOADS}, "note": PAYLOADS[1]}
    (run / "spec.yaml").write_text(json.dumps(spec))
    summary = {"steps": 2, "final_dev": {"query": PAYLOADS[0]}, "adapter": PAYLOADS[1]}
    (run / "summary.json").write_text(json.dumps(summary))
    rows = [{"step": s, "loss": 1.0 / s} for s in range(1, 10)]
    (run / "loss.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    rows = [{"name": p, "nDCG@10": 0.3 + i / 10} for i, p in enumerate(PAYLOADS)]
    (sweep / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for folder in (run, sweep):
        page = write_report(folder).read_text()
        for payload in PAYLOADS:
            assert payload not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "<script" not in page and "<img src=x" not in page


@pytest.mark.parametrize("value", ["data:../../etc/passwd", "data:/etc/passwd"])
def test_data_paths_outside_the_data_folder_are_refused(value: str) -> None:
    with pytest.raises(InputError, match="outside the data folder"):
        resolve_data_path(value)


def test_spec_yaml_with_python_objects_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    marker = tmp_path / "ran"
    spec.write_text(f'model: !!python/object/apply:os.system ["echo hi > {marker}"]\nscorer: yes-no\n')
    with pytest.raises(InputError, match="spec.yaml:1: invalid YAML .*python/object/apply:os.system"):
        load_spec(spec)
    assert not marker.exists()


def test_remote_code_is_off_by_default() -> None:
    from rankscope.cli.rerank import rerank
    from rankscope.models.loading import load_backbone
    from rankscope.reranker import Reranker

    assert ExperimentSpec.model_fields["trust_remote_code"].default is False
    for fn in (Reranker.load, load_backbone, rerank):
        assert inspect.signature(fn).parameters["trust_remote_code"].default is False
