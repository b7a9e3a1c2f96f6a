"""One dev set for training and inspection: a run held out of graded DL21 is measured the same way by
both (binarised judgements, so RR@10 rather than RR(rel=2)@10)."""

from __future__ import annotations

import pytest

from rankscope.errors import InputError
from rankscope.inspect.run import run_dev_data
from rankscope.train.data import build_training_set
from rankscope.train.devset import build_dev_set

try:
    from rankscope.data.registry import data_root

    data_root()
    HAVE_DATA = True
except InputError:
    HAVE_DATA = False


@pytest.mark.skipif(not HAVE_DATA, reason="needs the shared data folder")
def test_dl21_held_out_dev_set_is_the_same_in_training_and_inspection(make_spec) -> None:
    spec = make_spec(
        train={"files": [], "datasets": ["dl21"], "group_size": 3, "max_queries": 20, "dev_fraction": 0.25},
        dev={"max_queries": 4},
        eval_sets=["dl19"],
    )
    data = build_training_set(spec.train, list(spec.eval_sets), pointwise=False)
    training = build_dev_set(spec, data.dev)
    inspection = run_dev_data(spec)
    assert training.qrels == inspection.qrels and training.qrels
    assert set(training.candidates.hits) == set(inspection.candidates.hits)
    # DL21's graded judgements (0-3) are binarised at train.min_relevance: one measure in both places
    assert {r for docs in inspection.qrels.values() for r in docs.values()} <= {0, 1}
    assert training.measures == inspection.measures == ["nDCG@10", "RR@10"]


def test_a_run_without_dev_data_is_refused(make_spec) -> None:
    spec = make_spec(train={"dev_fraction": 0.0})
    with pytest.raises(InputError, match="^dev: the run has no dev set: train.dev_fraction is 0"):
        build_dev_set(spec, [])
    with pytest.raises(InputError, match="train.dev_fraction 0.25 held out no training query"):
        build_dev_set(make_spec(), [])


def test_few_dev_queries_are_named_in_a_notice() -> None:
    from rankscope.data.types import Candidates, Hit
    from rankscope.train.devset import FEW_DEV_QUERIES, DevSet, few_queries_notice

    def dev(n: int) -> DevSet:
        cands = Candidates(hits={f"q{i}": [Hit("d", 1.0)] for i in range(n)})
        return DevSet(cands, {}, {f"q{i}": {"d": 1} for i in range(n - 1)}, None)  # the last unjudged

    notice = few_queries_notice(dev(21), "RR@10", 21)
    assert notice is not None and "rest on 20 judged dev queries" in notice and "= 0.025" in notice
    assert "dev.max_queries (21) caps it" in notice
    assert "caps it" not in (few_queries_notice(dev(21), "RR@10", 100) or "")  # the set has no more
    assert few_queries_notice(dev(FEW_DEV_QUERIES + 1), "RR@10", None) is None
    assert few_queries_notice(dev(21), "dev_loss", 21) is None


def test_a_bad_dev_field_is_named_as_the_spec_names_it(make_spec) -> None:
    spec = make_spec(dev={"dataset": "dl19", "candidates": "nope"})
    with pytest.raises(InputError, match="^dev.candidates: unknown candidates 'nope' for dl19"):
        build_dev_set(spec)


def test_seeds_hold_out_the_same_dev_queries(make_spec) -> None:
    def held_out(**train: int) -> set[str]:
        spec = make_spec(train={"dev_fraction": 0.25, **train})
        return {g.key for g in build_training_set(spec.train, []).dev}

    first = held_out(seed=0)
    assert first and held_out(seed=1) == held_out(seed=2) == first  # each seed held out its own before
    assert held_out(seed=1, split_seed=7) != first  # the split has its own seed


def test_the_health_checks_count_positives_as_training_does(make_spec) -> None:
    spec = make_spec(dev={"dataset": "dl19", "depth": 5, "max_queries": 2}, train={"min_relevance": 2})
    assert build_dev_set(spec).min_relevance == 2  # grade-1 "related" documents were counted as positives
    assert build_dev_set(make_spec(dev={"dataset": "dl19", "depth": 5, "max_queries": 2})).min_relevance == 1
