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
    # the 600 dev-small queries with text split by sha1(qid) % 4: each has exactly one judgement
    "msmarco-dev600-train": (461, None, 461),
    "msmarco-dev600-dev": (139, None, 139),
    # 25 x (1 positive + 25 negatives) = 650 passages; the 95 flagged negatives stay unjudged
    "msmarco-rlhn-25q": (25, 650, 650 - 95),
    "dl22": (76, None, 0),
}


def test_registry_names() -> None:
    assert set(registry.DATASETS) == set(EXPECTED)
    for name, spec in registry.DATASETS.items():
        assert spec.name == name and spec.license and spec.split in {"train", "dev", "test", "unlabelled"}


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
    if n_judged == 0:
        assert coll.qrels is None
    else:
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


def test_load_files_qrels_of_more_queries_are_subset(
    files: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """Official qrels judge more queries than a subset being reranked: the others are skipped, with one
    warning (logging, logger rankscope.data) that counts them."""
    files["qrels"].write_text("q1 Q0 d1 2\nq2 Q0 d2 0\nq9 Q0 d3 1\nq8 Q0 d3 1\n")
    with caplog.at_level("WARNING", logger="rankscope.data"):
        coll = registry.load_files(queries=files["queries"], qrels=files["qrels"])
    assert coll.qrels == {"q1": {"d1": 2}, "q2": {"d2": 0}}
    warned = [rec for rec in caplog.records if rec.name == "rankscope.data"]
    assert (
        len(warned) == 1 and "2 queries" in warned[0].getMessage() and "qrels.txt" in warned[0].getMessage()
    )
    caplog.clear()
    with caplog.at_level("WARNING", logger="rankscope.data"):
        coll = registry.load_files(candidates=files["cands"], qrels=files["qrels"])  # candidates hold q1 only
    assert coll.qrels == {"q1": {"d1": 2}} and len(caplog.records) == 1
    assert "3 queries" in caplog.records[0].getMessage()


def test_load_files_qrels_of_no_query_refused(files: dict[str, Path]) -> None:
    files["qrels"].write_text("\nq8 Q0 d1 2\nq9 Q0 d2 0\n")
    with pytest.raises(InputError) as exc:
        registry.load_files(queries=files["queries"], qrels=files["qrels"])
    assert "qrels.txt:2:" in str(exc.value) and "judge none of the 2 queries" in str(exc.value)


@needs_data
def test_real_subset_against_official_qrels(caplog: pytest.LogCaptureFixture) -> None:
    """The reported failure: the 600-query candidates against the full dev-small qrels."""
    base = registry.data_root() / "msmarco-passage-dev-small"
    with caplog.at_level("WARNING", logger="rankscope.data"):
        coll = registry.load_files(
            candidates=base / "bm25_top20_600q.jsonl.gz", qrels=base / "qrels.dev.small.txt"
        )
    assert coll.qrels is not None and len(coll.qrels) == 600 and "42255" not in coll.qrels
    assert len(caplog.records) == 1 and "6380 queries" in caplog.records[0].getMessage()


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


# --------------------------------------------------------------------------- new datasets


@needs_data
def test_dev600_split_disjoint_complete_and_stable() -> None:
    train = registry.load_dataset("msmarco-dev600-train")
    dev = registry.load_dataset("msmarco-dev600-dev")
    assert not set(train.queries) & set(dev.queries)
    full = read_candidates(registry.data_root() / registry.DEV600_FILE)
    assert set(train.queries) | set(dev.queries) == set(full.hits)
    assert all(registry.dev600_part(q) == "dev" for q in dev.queries)
    assert all(registry.dev600_part(q) == "train" for q in train.queries)
    # Pinned: the split must never move (runs and specs of different days compare on it).
    assert sorted(dev.queries)[:5] == ["1000678", "1003875", "1008911", "1009749", "1010277"]
    # Each part's candidates hold its own queries only, though one file serves both.
    dev_cands = registry.collection_candidates(dev, "bm25")
    assert set(dev_cands.hits) == set(dev.queries) and all(len(h) == 20 for h in dev_cands.hits.values())
    assert dev.qrels is not None and set(dev.qrels) == set(dev.queries)


def test_dev600_rule_known_values() -> None:
    import hashlib

    assert [q for q in "12345678" if registry.dev600_part(q) == "dev"] == ["2", "5", "6"]
    ids = [str(i) for i in range(1000, 3000)]
    dev = [q for q in ids if registry.dev600_part(q) == "dev"]
    assert all(int(hashlib.sha1(q.encode()).hexdigest(), 16) % registry.DEV600_MODULUS == 0 for q in dev)
    assert 0.2 < len(dev) / len(ids) < 0.3


@needs_data
def test_rlhn_flags() -> None:
    from rankscope.data.rlhn import read_rlhn

    recs = read_rlhn(registry.data_root() / registry.RLHN_FILE)
    assert len(recs) == 25 and all(len(x.negatives) == 25 and len(x.positives) == 1 for x in recs)
    assert sum(len(x.flagged) for x in recs) == 95
    first = recs[0]
    assert first.qid == "e61a5737af172e3cf100e433b3dd3ca2"
    assert first.flagged == {first.negatives[i].doc_id for i in (17, 20, 21)}
    query, pos, neg = first.as_bge()
    assert query == "statutory tax rate" and len(pos) == 1 and len(neg) == 22
    assert len(first.as_bge(drop_flagged=False)[2]) == 25
    coll = registry.load_dataset("msmarco-rlhn-25q")
    assert coll.qrels is not None and coll.exclude is not None
    assert coll.exclude[first.qid] == set(first.flagged)
    assert not set(coll.qrels[first.qid]) & first.flagged
    assert coll.qrels[first.qid][first.positives[0].doc_id] == 1


@needs_data
def test_rlhn_flagged_never_mined_as_negatives() -> None:
    from rankscope.data.examples import mine_bm25

    coll = registry.load_dataset("msmarco-rlhn-25q")
    _, exclude = mine_bm25(coll, depth=30)
    assert coll.exclude is not None
    assert all(exclude[q] >= flagged for q, flagged in coll.exclude.items())


def test_rlhn_bad(tmp_path: Path) -> None:
    from rankscope.data.rlhn import read_rlhn

    row = {"query_id": "a", "query": "q", "pos": ["p"], "neg": ["n1", "n2"], "llm_flagged_neg": [1]}
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps({**row, "query_id": "b", "llm_flagged_neg": [2]}))
    with pytest.raises(InputError, match=r"r.jsonl:2:.*out of range"):
        read_rlhn(path)
    path.write_text(json.dumps({**row, "pos": []}))
    with pytest.raises(InputError, match=r"r.jsonl:1:.*no positive"):
        read_rlhn(path)


@needs_data
def test_dl22_unlabelled() -> None:
    coll = registry.load_dataset("dl22")
    assert coll.qrels is None and list(coll.candidates) == ["bm25"]
    cands = registry.collection_candidates(coll, "bm25")
    assert set(cands.hits) == set(coll.queries) and all(len(h) == 100 for h in cands.hits.values())
    assert registry.describe("dl22")["n_judgements"] == 0


def test_a_registered_dataset_is_named_like_the_built_in_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    from rankscope.config import spec_from_dict
    from rankscope.data.types import Collection

    monkeypatch.setattr(registry, "DATASETS", dict(registry.DATASETS))  # undone after the test
    spec = registry.DatasetSpec(
        "mine", "test", "mine", "two queries", "CC0", lambda root: Collection("mine", {"q1": "a", "q2": "b"})
    )
    assert registry.register_dataset(spec) is spec
    assert registry.load_dataset("mine").queries == {"q1": "a", "q2": "b"}
    data = {"model": "m", "scorer": "yes-no", "objective": "listwise", "train": {"datasets": ["mine"]}}
    got = spec_from_dict({**data, "eval_sets": []})
    assert got.train.datasets == ["mine"]
    with pytest.raises(InputError, match="a dataset needs a name"):
        registry.register_dataset(registry.DatasetSpec(" x", "t", "x", "", "", spec.loader))


def test_a_registered_dataset_of_files_keeps_its_name_for_the_leak_guards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`load_files` names its collection "files": an evaluation set registered from files had its judged
    ids in id space "files", so synth sampled them from a corpus of the same ids (only text was matched)."""
    from rankscope.data.guards import load_eval_guard
    from rankscope.synth import load_corpus, sample_passages

    (tmp_path / "q.tsv").write_text("1\tdo goldfish grow\n")
    (tmp_path / "qrels.txt").write_text("1 0 7001 1\n")
    (tmp_path / "train.tsv").write_text("5\tflea life cycle\n")
    (tmp_path / "corpus.tsv").write_text("7001\tgoldfish grow to fit their tank\n7002\tfleas are insects\n")
    files = registry.load_files
    test = registry.DatasetSpec(
        "mymarco-test", "test", "x", "", "", lambda root: files(tmp_path / "q.tsv", tmp_path / "qrels.txt")
    )
    corpus = registry.DatasetSpec(
        "mymarco-corpus",
        "train",
        "x",
        "",
        "",
        lambda root: files(tmp_path / "train.tsv", corpus=tmp_path / "corpus.tsv"),
    )
    for spec in (test, corpus):  # into the registry's own dict (synth holds it too), undone after the test
        monkeypatch.setitem(registry.DATASETS, spec.name, spec)
    assert registry.load_named("mymarco-test").name == "mymarco-test"
    assert registry.load_dataset("mymarco-corpus").name == "files"  # the loader's own name
    guard = load_eval_guard(["mymarco-test"])
    docs, space, _ = load_corpus("mymarco-corpus", None)
    sampled, excluded = sample_passages(docs, 100, 0, guard, space)
    assert excluded == 1 and "7001" not in {d.doc_id for d in sampled}
