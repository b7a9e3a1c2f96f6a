"""The dataset registry over the real shared data, the data-root search, and collections from files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankscope.data import registry
from rankscope.data.readers import read_candidates
from rankscope.errors import InputError


def has_data() -> bool:
    try:
        registry.data_root()
    except InputError:
        return False
    return True


needs_data = pytest.mark.skipif(not has_data(), reason="no shared/data folder and no RANKSCOPE_DATA")

# name -> (queries, documents, judgements), from shared/data/README.md and the SOURCE.md files.
EXPECTED = {
    "dl19": (43, None, 9260),
    "dl21": (53, 5299, 10828),
    "msmarco-dev-small": (6980, 0, 7437),
    "scifact-train": (809, 5183, 919),
    "scifact-test": (300, 5183, 339),
    "nq-open": (2655, None, 2655),
    # 1,400 records less the two empty ones (471, 995); cranqrel has 1,837 lines (README's 1,836 is
    # `wc -l`: the last line has no newline), 225 of them code -1.
    "cranfield": (225, 1398, 1837),
    "cisi": (76, 1460, 3114),
    "adi": (35, 82, 170),
    "vaswani": (93, 11429, 2083),
}


def test_registry_names() -> None:
    assert set(registry.DATASETS) == set(EXPECTED)
    for name, spec in registry.DATASETS.items():
        assert spec.name == name and spec.license and spec.split in {"train", "dev", "test"}


def test_unknown_dataset_lists_names() -> None:
    with pytest.raises(InputError) as exc:
        registry.load_dataset("dl99")
    assert "dl99" in str(exc.value) and "dl19" in str(exc.value) and "vaswani" in str(exc.value)


def test_data_root_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANKSCOPE_DATA", str(tmp_path))
    assert registry.data_root() == tmp_path
    monkeypatch.setenv("RANKSCOPE_DATA", str(tmp_path / "absent"))
    with pytest.raises(InputError, match="RANKSCOPE_DATA"):
        registry.data_root()


def test_data_root_found_beside_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "main" / "sub").mkdir(parents=True)
    monkeypatch.delenv("RANKSCOPE_DATA", raising=False)
    monkeypatch.chdir(tmp_path / "main" / "sub")
    assert registry.data_root() == tmp_path / "shared" / "data"


@needs_data
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dataset_counts(name: str) -> None:
    n_queries, n_docs, n_judged = EXPECTED[name]
    coll = registry.load_dataset(name)
    assert coll.name == name
    assert len(coll.queries) == n_queries
    assert coll.qrels is not None and sum(len(d) for d in coll.qrels.values()) == n_judged
    assert set(coll.qrels) <= set(coll.queries)
    assert all(t.strip() for t in coll.queries.values())
    if n_docs is not None and coll.corpus is not None:
        assert len(coll.corpus) == n_docs
    for path in coll.candidates.values():
        assert Path(path).is_file()


@needs_data
def test_dl19_candidates_and_describe() -> None:
    coll = registry.load_dataset("dl19")
    assert list(coll.candidates) == ["bm25", "bm25-rm3", "tasb", "splade-pp", "repllama"]
    bm25 = read_candidates(coll.candidates["bm25"])
    assert set(bm25.hits) == set(coll.queries) and all(len(h) == 100 for h in bm25.hits.values())
    assert all(len(h) == 200 for h in read_candidates(coll.candidates["repllama"]).hits.values())
    d = registry.describe("dl19")
    assert d["n_queries"] == 43 and d["n_judgements"] == 9260 and d["split"] == "test"
    assert int(d["n_docs"]) > 4297  # the union over the five candidate sets
    assert "non-commercial" in str(d["license"])


@needs_data
def test_classic_specifics() -> None:
    cran = registry.load_dataset("cranfield")
    assert cran.queries["3"].startswith("what problems of heat conduction in composite slabs")  # .I 004
    assert cran.qrels is not None and cran.qrels["1"]["184"] == 3 and cran.qrels["1"]["486"] == 0
    assert (
        cran.corpus is not None and "471" not in cran.corpus and cran.corpus["1"].title.startswith("experim")
    )
    nq = registry.load_dataset("nq-open")
    assert nq.answers is not None and len(nq.answers) == 2655
    vas = registry.load_dataset("vaswani")
    assert vas.queries["1"] == vas.queries["1"].lower()


@needs_data
def test_describe_keys() -> None:
    d = registry.describe("adi")
    assert {"name", "split", "n_queries", "n_docs", "n_judgements", "license"} <= set(d)
    assert (d["n_queries"], d["n_docs"], d["n_judgements"]) == (35, 82, 170)


# --------------------------------------------------------------------------- load_files


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "queries.tsv").write_text("q1\tfleas\nq2\tgoldfish\n")
    (tmp_path / "qrels.txt").write_text("q1 Q0 d1 2\nq2 Q0 d2 0\n")
    (tmp_path / "corpus.jsonl").write_text(
        json.dumps({"_id": "d1", "title": "", "text": "fleas live"})
        + "\n"
        + json.dumps({"_id": "d2", "title": "Fish", "text": "goldfish grow"})
        + "\n"
    )
    (tmp_path / "cands.jsonl").write_text(
        json.dumps({"qid": "q1", "query": "fleas?", "hits": [{"docid": "d1", "score": 1.0}]}) + "\n"
    )
    return {p.stem.split(".")[0]: p for p in tmp_path.iterdir()}


def test_load_files(files: dict[str, Path]) -> None:
    coll = registry.load_files(
        queries=files["queries"], qrels=files["qrels"], corpus=files["corpus"], candidates=files["cands"]
    )
    assert coll.queries == {"q1": "fleas", "q2": "goldfish"}
    assert coll.qrels == {"q1": {"d1": 2}, "q2": {"d2": 0}}
    assert coll.corpus is not None and coll.corpus["d2"].title == "Fish"
    assert coll.candidates == {"cands": str(files["cands"])}


def test_load_files_queries_from_candidates(files: dict[str, Path], tmp_path: Path) -> None:
    coll = registry.load_files(candidates=files["cands"])
    assert coll.queries == {"q1": "fleas?"} and coll.qrels is None
    beir = tmp_path / "qrels.tsv"
    beir.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    assert registry.load_files(candidates=files["cands"], qrels=beir).qrels == {"q1": {"d1": 1}}


def test_load_files_unknown_query(files: dict[str, Path]) -> None:
    files["qrels"].write_text("q1 Q0 d1 2\nq2 Q0 d2 0\nq9 Q0 d3 1\n")
    with pytest.raises(InputError) as exc:
        registry.load_files(queries=files["queries"], qrels=files["qrels"])
    assert "qrels.txt:3:" in str(exc.value) and "unknown query 'q9'" in str(exc.value)
    with pytest.raises(InputError, match=r"qrels.txt:2:.*'q2'"):
        registry.load_files(candidates=files["cands"], qrels=files["qrels"])  # the candidates only hold q1


def test_load_files_bad_paths(files: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="absent.tsv"):
        registry.load_files(queries=tmp_path / "absent.tsv")
    with pytest.raises(InputError, match="absent.jsonl"):
        registry.load_files(queries=files["queries"], candidates=tmp_path / "absent.jsonl")
    odd = tmp_path / "corpus.bin"
    odd.write_text("x")
    with pytest.raises(InputError, match="corpus format"):
        registry.load_files(queries=files["queries"], corpus=odd)
    with pytest.raises(InputError):
        registry.load_files()
