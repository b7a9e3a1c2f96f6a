"""The PyTerrier transformer: `first_stage >> reranker` reranks a results frame like Reranker.rerank."""

from __future__ import annotations

from pathlib import Path

import pytest

pt = pytest.importorskip("pyterrier")
pd = pytest.importorskip("pandas")

from rankscope import Reranker  # noqa: E402
from rankscope.errors import InputError  # noqa: E402
from rankscope.pyterrier import RankscopeReranker  # noqa: E402

DOCS = ["goldfish grow in ponds", "the flea life cycle lasts up to a year", "wifi has a long range"]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rows = [("q1", "how long do fleas live", f"d{i}", t, 3.0 - i, i) for i, t in enumerate(DOCS)]
    rows += [("q2", "do goldfish grow", "d0", DOCS[0], 1.0, 0)]
    return pd.DataFrame(rows, columns=["qid", "query", "docno", "text", "score", "rank"])


def test_pipeline_reranks_like_the_python_api(llama_dir: Path, frame: pd.DataFrame) -> None:
    reranker = Reranker.load(llama_dir, scorer="yes-no", device="cpu", dtype="float32")
    first_stage = pt.Transformer.from_df(frame)
    out = (first_stage >> RankscopeReranker(reranker)).transform(frame[["qid", "query"]].drop_duplicates())
    q1 = out[out.qid == "q1"].sort_values("rank")
    want = reranker.rerank("how long do fleas live", DOCS)
    assert q1["docno"].tolist() == [f"d{r.index}" for r in want]
    assert q1["score"].tolist() == pytest.approx([r.score for r in want])
    assert q1["rank"].tolist() == [0, 1, 2] and len(out[out.qid == "q2"]) == 1


def test_pairwise_and_bad_frames(llama_dir: Path, frame: pd.DataFrame) -> None:
    pairwise = RankscopeReranker(Reranker.load(llama_dir, scorer="pairwise", device="cpu", dtype="float32"))
    out = pairwise.transform(frame)
    assert set(out.columns) >= {"qid", "docno", "score", "rank"} and len(out) == 4
    with pytest.raises(InputError, match="lacks column 'text'"):
        pairwise.transform(frame.drop(columns=["text"]))
    yes_no = RankscopeReranker(Reranker.load(llama_dir, scorer="yes-no", device="cpu", dtype="float32"))
    for reranker in (yes_no, pairwise):
        holed = frame.copy()
        holed.loc[1, "text"] = None  # scored as the word "None" (or "nan") before
        with pytest.raises(InputError, match="no text for query 'q1', document 'd1'"):
            reranker.transform(holed)
    blank_query = frame.assign(query=["", *frame["query"].tolist()[1:]])
    with pytest.raises(InputError, match="no query text for query 'q1'"):
        yes_no.transform(blank_query)
