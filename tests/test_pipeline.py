"""`run_rerank`: every judged query counts (one without candidates as 0), a run sharing no query with the
qrels is refused; the caller's reranker is left as it was."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from rankscope.data.types import Candidates, Collection, Hit
from rankscope.errors import InputError
from rankscope.pipeline import Inputs, run_rerank
from rankscope.reranker import Reranker
from rankscope.scorers.base import Pair, Scorer


class WordOverlap(Scorer):
    name = "overlap"

    def score(self, pairs: Sequence[Pair], progress: Callable[[int], None] | None = None) -> list[float]:
        return [float(len(set(p.query.split()) & set(p.doc.split()))) for p in pairs]


def inputs(qrels: dict[str, dict[str, int]]) -> Inputs:
    hits = {"q1": [Hit("a", 2.0, "cats sleep"), Hit("b", 1.0, "fleas live a year")]}
    coll = Collection("tiny", {"q1": "how long do fleas live", "q2": "cats", "q3": "wifi"}, qrels)
    return Inputs(coll, Candidates(hits, {"q1": coll.queries["q1"]}))


def test_every_judged_query_counts_and_a_run_of_other_queries_is_refused() -> None:
    qrels = {"q1": {"b": 1}, "q2": {"x": 1}, "q3": {"y": 1}}  # q2 and q3 have no candidates: 0 each
    res = run_rerank(inputs(qrels), Reranker(WordOverlap(), "m", "overlap"), depth=2, measures=["RR@10"])
    assert res.metrics == {"RR@10": pytest.approx(1 / 3)}
    with pytest.raises(InputError, match="shares no query with the qrels"):  # read as all zeros before
        run_rerank(inputs({"q9": {"b": 1}}), Reranker(WordOverlap(), "m", "overlap"), depth=2)


def test_the_callers_pairwise_top_is_kept() -> None:
    reranker = Reranker(WordOverlap(), "m", "overlap")
    reranker.pairwise_top = 7
    run_rerank(inputs({"q1": {"b": 1}}), reranker, depth=2, pairwise_top=3)
    assert reranker.pairwise_top == 7
