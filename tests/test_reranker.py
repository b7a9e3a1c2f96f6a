"""The Python API: Reranker.load / from_run, score, rerank, rerank_run, Hub ids from a local Hub cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rankscope import Ranked, Reranker
from rankscope.data.types import Candidates, Hit
from rankscope.errors import InputError

DOCS = ["the flea life cycle lasts up to a year", "goldfish grow in ponds", "wifi has a long range"]


@pytest.fixture(scope="module")
def tiny(llama_dir: Path) -> Reranker:
    return Reranker.load(llama_dir, scorer="yes-no", device="cpu", dtype="float32")


def test_score_and_rerank_agree(tiny: Reranker) -> None:
    scores = tiny.score("how long do fleas live", DOCS)
    assert len(scores) == 3 and len(set(scores)) == 3
    ranked = tiny.rerank("how long do fleas live", DOCS)
    assert [r.index for r in ranked] == sorted(range(3), key=lambda i: -scores[i])
    assert ranked[0] == Ranked(ranked[0].index, max(scores))
    assert len(tiny.rerank("how long do fleas live", DOCS, top_k=2)) == 2
    # documents from a generator: scored (it returned [], and rerank raised TypeError)
    assert tiny.score("how long do fleas live", (d for d in DOCS)) == scores
    assert tiny.rerank("how long do fleas live", iter(DOCS)) == ranked


def test_rerank_run_equals_score(tiny: Reranker) -> None:
    hits = [Hit(f"d{i}", 1.0, d) for i, d in enumerate(DOCS)]
    run = tiny.rerank_run(Candidates({"q1": hits}, {"q1": "how long do fleas live"}), progress=False)
    assert list(run["q1"].values()) == pytest.approx(tiny.score("how long do fleas live", DOCS))


def test_bad_input_is_refused(tiny: Reranker) -> None:
    with pytest.raises(InputError, match="query is empty"):
        tiny.score(" ", DOCS)
    with pytest.raises(InputError, match="document 1 is empty"):
        tiny.score("q", ["a", ""])
    with pytest.raises(InputError, match="not one string"):
        tiny.score("q", "a single string")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="top_k must be at least 1"):
        tiny.rerank("q", DOCS, top_k=-1)  # was every document but the last
    from rankscope.data.types import Candidates, Hit

    cands = Candidates({"q": [Hit("a", 2.0, "x"), Hit("b", 1.0, "y")]}, {"q": "query"})
    with pytest.raises(InputError, match="depth must be at least 1"):
        tiny.rerank_run(cands, depth=-1)  # dropped the last candidate before


def test_a_token_budget_below_one_is_refused_before_loading(tmp_path: Path) -> None:
    # the folder does not exist: the budget is checked first, so the error names the budget
    with pytest.raises(InputError, match="--max-doc-tokens: a token budget is at least 1, got 0"):
        Reranker.load(tmp_path / "no-model", max_doc_tokens=0)
    with pytest.raises(InputError, match="--max-query-tokens: a token budget is at least 1, got -3"):
        Reranker.load(tmp_path / "no-model", max_query_tokens=-3)


def test_pairwise_reranker_scores_a_list(llama_dir: Path) -> None:
    r = Reranker.load(llama_dir, scorer="pairwise", device="cpu", dtype="float32")
    scores = r.score("how long do fleas live", DOCS)
    assert len(scores) == 3 and [x.index for x in r.rerank("how long do fleas live", DOCS)] == sorted(
        range(3), key=lambda i: -scores[i]
    )


def hub_cache(root: Path, repo_id: str, folder: Path) -> Path:
    """Lay `folder` out as the Hugging Face Hub cache does: models--org--name/{refs,snapshots}."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    commit = "0" * 40
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    for f in folder.iterdir():
        if f.is_file():
            (snap / f.name).symlink_to(f.resolve())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return root


def _offline_cache(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(root))


def test_hub_id_from_a_local_hub_cache_scores_like_the_folder(
    llama_dir: Path, tiny: Reranker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _offline_cache(monkeypatch, hub_cache(tmp_path / "hub", "someone/tiny-llama", llama_dir))
    by_id = Reranker.load("someone/tiny-llama", scorer="yes-no", device="cpu", dtype="float32")
    assert by_id.score("how long do fleas live", DOCS) == tiny.score("how long do fleas live", DOCS)


def test_offline_hub_id_without_a_cached_copy_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hub").mkdir()
    _offline_cache(monkeypatch, tmp_path / "hub")
    with pytest.raises(InputError, match="not in the local Hugging Face cache and the Hub is offline"):
        Reranker.load("HuggingFaceTB/SmolLM2-135M-Instruct", scorer="yes-no")


def test_library_never_sets_hub_offline() -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    code = (
        "import os, rankscope.models.loading, rankscope.pipeline, rankscope.train.run, rankscope.cli;"
        "print(os.environ.get('HF_HUB_OFFLINE'))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "None"


def test_remote_code_is_refused_unless_asked(tmp_path: Path, llama_dir: Path) -> None:
    folder = tmp_path / "remote"
    shutil.copytree(llama_dir, folder)
    cfg = (folder / "config.json").read_text().replace('"model_type": "llama"', '"model_type": "my-remote"')
    (folder / "config.json").write_text(
        cfg.replace("{", '{"auto_map": {"AutoConfig": "configuration_x.XConfig"},', 1)
    )
    (folder / "configuration_x.py").write_text("raise SystemExit('remote code ran')\n")
    with pytest.raises(InputError, match="trust_remote_code|remote code"):
        Reranker.load(folder, scorer="yes-no")


@pytest.mark.slow
def test_smollm2_hub_id_scores_like_the_bundled_alias(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rankscope.models.loading import resolve_model

    alias = Reranker.load("smollm2-135m", scorer="query-likelihood", device="cpu", dtype="float32")
    root = hub_cache(tmp_path / "hub", "HuggingFaceTB/SmolLM2-135M-Instruct", resolve_model("smollm2-135m"))
    _offline_cache(monkeypatch, root)
    hub = Reranker.load(
        "HuggingFaceTB/SmolLM2-135M-Instruct", "query-likelihood", device="cpu", dtype="float32"
    )
    q = "how long do fleas live"
    assert hub.score(q, DOCS) == alias.score(q, DOCS)
