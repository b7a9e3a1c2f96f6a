"""Training from registered datasets (BM25-mined negatives) with a registered dev set, on the shared data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankscope.config import TrainData
from rankscope.errors import InputError
from rankscope.train.data import build_training_set
from rankscope.train.run import train

try:
    from rankscope.data.registry import data_root

    data_root()
    HAVE_DATA = True
except InputError:
    HAVE_DATA = False

pytestmark = pytest.mark.skipif(not HAVE_DATA, reason="needs the shared data folder")


def test_classic_collection_with_bm25_negatives_and_a_dev_dataset(make_spec, tmp_path: Path) -> None:
    spec = make_spec(
        train={"files": [], "datasets": ["adi"], "group_size": 3, "max_queries": 12, "dev_fraction": 0.2},
        dev={"dataset": "cranfield", "depth": 4, "max_queries": 3},
        optim={"steps": 2, "batch_size": 2},
        max_doc_tokens=48,
    )
    res = train(spec, tmp_path / "run")
    row = res.metrics[-1]
    assert row["step"] == 2 and 0 <= row["nDCG@10"] <= 1 and "RR(rel=2)@10" in row  # graded qrels
    log = (tmp_path / "run" / "train.log").read_text()
    assert (
        "training groups" in log and json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 2
    )


def test_evaluation_queries_never_reach_training() -> None:
    with pytest.raises(
        InputError, match="35 of the 76 training queries of cisi are queries of the evaluation set adi"
    ):
        build_training_set(TrainData(datasets=["cisi"], group_size=2), ["adi"])  # CISI holds every ADI query
    with pytest.raises(InputError, match="'adi' is an evaluation set"):
        build_training_set(TrainData(datasets=["adi"]), ["adi"])


def test_a_held_out_query_never_shares_its_text_with_a_training_query(tmp_path: Path) -> None:
    from rankscope.config import TrainData
    from rankscope.data.guards import normalise_query
    from rankscope.train.data import build_training_set

    rows = "".join(f"query number {i}\tpositive {i}\tnegative {i}\n" for i in range(10))
    files = [tmp_path / "a.tsv", tmp_path / "b.tsv"]  # the same queries in two files: two keys each
    for f in files:
        f.write_text(rows)
    ts = build_training_set(TrainData(files=[str(f) for f in files], group_size=2, dev_fraction=0.5), [])
    trained = {normalise_query(g.query) for g in ts.train}
    assert ts.dev and not {normalise_query(g.query) for g in ts.dev} & trained  # 6 were in both before


def test_a_dropped_evaluation_query_leaves_nothing_in_the_random_pool(tmp_path: Path) -> None:
    """A training file holding a few DL19 queries: their rows were dropped only after the pool of random
    negatives was drawn from every row, so DL19's judged passages became other queries' negatives."""
    from rankscope.data.registry import load_dataset

    dl19 = load_dataset("dl19")
    assert dl19.qrels is not None
    ev = [
        (q, f"dl19 passage {i} {j}") for i, q in enumerate(list(dl19.queries.values())[:2]) for j in range(5)
    ]
    rows = [{"query": f"train query {i}", "pos": [f"pos {i}"], "neg": [f"neg {i}"]} for i in range(40)]
    rows += [{"query": q, "pos": [p], "neg": [p + " neg"]} for q, p in ev]
    path = tmp_path / "mix.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ts = build_training_set(
        TrainData(files=[str(path)], negatives="random", group_size=8, dev_fraction=0.0), ["dl19"]
    )
    assert ts.dropped == {f"{path} -> dl19": 2} and len(ts.train) == 40
    assert not [d for g in ts.train for d in g.docs if d.startswith("dl19 passage")]


def test_two_datasets_registered_from_files_keep_their_queries_apart(tmp_path: Path, monkeypatch) -> None:
    """`load_files` names every collection "files": two such datasets gave the same group keys, and a query
    id in each merged into one dev query (one's text, both's passages and judgements)."""
    from rankscope.data import registry

    sets = {"mya-train": ["do goldfish grow", "what is wifi"], "myb-train": ["flea", "range"]}
    for name, texts in sets.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "q.tsv").write_text("".join(f"{i + 1}\t{t}\n" for i, t in enumerate(texts)))
        (folder / "qrels.txt").write_text("1 0 p1 1\n2 0 p2 1\n")
        rows = []
        for i, t in enumerate(texts):
            hits = [{"docid": f"p{i + 1}", "score": 2.0, "content": f"{t} pos"}]
            hits += [{"docid": f"n{i}{j}", "score": 1.0, "content": f"{t} neg {j}"} for j in range(3)]
            rows.append({"qid": str(i + 1), "query": t, "hits": hits})
        (folder / "bm25.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

        def loader(root: Path, folder: Path = folder) -> object:
            return registry.load_files(
                folder / "q.tsv", folder / "qrels.txt", candidates=folder / "bm25.jsonl"
            )

        spec = registry.DatasetSpec(name, "train", name, "", "", loader)
        monkeypatch.setitem(registry.DATASETS, name, spec)
    data = TrainData(datasets=list(sets), group_size=2, dev_fraction=0.0)
    keys = sorted(g.key for g in build_training_set(data, []).train)
    assert keys == ["mya-train/1", "mya-train/2", "myb-train/1", "myb-train/2"]
