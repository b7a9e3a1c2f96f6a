"""Reranking's own bookkeeping: how many scorer calls a reranking makes, and `advance` told of each."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rankscope.data.types import Candidates, Hit
from rankscope.evaluate.rerank import rerank, scoring_units
from rankscope.scorers.base import Pair, Scorer


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
