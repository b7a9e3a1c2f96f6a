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
