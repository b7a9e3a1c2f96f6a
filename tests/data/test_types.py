"""Candidates: cutting lists and taking subsets refuse or read odd arguments as a user means them."""

from __future__ import annotations

import pytest

from rankscope.data.types import Candidates, Hit
from rankscope.errors import InputError

CANDS = Candidates({"264014": [Hit("a", 2.0), Hit("b", 1.0)], "1": [Hit("c", 1.0)]}, {"264014": "q"})


def test_truncate_needs_a_depth_of_at_least_one() -> None:
    assert [len(h) for h in CANDS.truncate(1).hits.values()] == [1, 1]
    with pytest.raises(InputError, match="depth must be at least 1"):
        CANDS.truncate(-1)  # dropped the last hit of each list before


def test_subset_takes_one_id_alone() -> None:
    assert list(CANDS.subset("264014").hits) == ["264014"]  # its characters were the ids before: none
    assert list(CANDS.subset(["1", "264014", "x"]).hits) == ["1", "264014"]
