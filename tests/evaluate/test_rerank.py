"""Reranking's own bookkeeping: how many scorer calls a reranking makes, and `advance` told of each."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from rankscope.data.types import Candidates, Hit
from rankscope.evaluate.rerank import rerank, rerank_pairwise, scoring_units
from rankscope.scorers.base import Pair, Scorer
from rankscope.testing import TablePreferences


class LengthScorer(Scorer):
    """Scores a passage by its length, in batches of 2 (a code-path stand-in, not a ranking claim)."""

    name = "length"

    def score(self, pairs: Sequence[Pair], progress: Callable[[int], None] | None = None) -> list[float]:
        out = []
        for i in range(0, len(pairs), 2):
            batch = pairs[i : i + 2]
            out += [float(len(p.doc)) for p in batch]
            if progress:
                progress(len(batch))
        return out


def candidates() -> Candidates:
    hits = {"q1": [Hit(f"d{i}", 10.0 - i, "x" * (i + 1)) for i in range(5)], "q2": [Hit("a", 1.0, "yy")]}
    return Candidates(hits, {"q1": "first", "q2": "second"})


def test_scoring_units_counts_pairs_or_ordered_comparisons() -> None:
    c = candidates()
    assert scoring_units(c, depth=3) == 3 + 1
    assert scoring_units(c, depth=100) == 5 + 1
    # pairwise: every ordered pair of each query's top k (k = min(top, hits within depth))
    assert scoring_units(c, depth=100, pairwise_top=3) == 3 * 2 + 0
    assert scoring_units(c, depth=2, pairwise_top=10) == 2 * 1 + 0


def test_advance_is_told_of_every_pair_scored() -> None:
    c = candidates()
    told: list[int] = []
    run = rerank(LengthScorer(), c, {}, depth=4, advance=told.append)
    assert told == [2, 2, 1] and sum(told) == scoring_units(c, depth=4)
    assert max(run["q1"], key=run["q1"].__getitem__) == "d3"  # the longest of the top 4


def test_pairwise_aggregation_by_hand() -> None:
    """s_i = sum_j p(i>j) + (1 - p(j>i)) over the top k, the top k above the rest in first-stage order.
    Crediting a win to the loser (agg[j] += p) passed every test that reached this before."""
    p = {("t1", "t2"): 0.2, ("t2", "t1"): 0.6, ("t1", "t3"): 0.9, ("t3", "t1"): 0.3}
    p |= {("t2", "t3"): 0.7, ("t3", "t2"): 0.1}
    # s1 = 0.2 + 0.9 + (1 - 0.6) + (1 - 0.3) = 2.2; s2 = 0.6 + 0.7 + 0.8 + 0.9 = 3.0;
    # s3 = 0.3 + 0.1 + 0.1 + 0.3 = 0.8
    hits = [Hit(f"d{i}", 10.0 - i, f"t{i}") for i in range(1, 6)]  # first stage: d1 .. d5
    cands = Candidates({"q": hits}, {"q": "query"})
    run = rerank_pairwise(TablePreferences(p), cands, {"q": "query"}, top_k=3, show_progress=False)  # type: ignore[arg-type]
    n = 5
    want = {"d2": n + 1 + 3.0, "d1": n + 1 + 2.2, "d3": n + 1 + 0.8, "d4": 2.0, "d5": 1.0}
    assert run["q"] == pytest.approx(want)
    assert sorted(run["q"], key=run["q"].__getitem__, reverse=True) == ["d2", "d1", "d3", "d4", "d5"]
