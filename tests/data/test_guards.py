"""The evaluation-leak guards, all in rankscope.data.guards."""

from __future__ import annotations

import pytest

from rankscope.data import examples, guards, registry
from rankscope.data.types import Collection, Document
from rankscope.errors import InputError


def test_id_spaces() -> None:
    assert guards.doc_id_space("dl19") == guards.doc_id_space("msmarco-dev600-dev") == "msmarco"
    assert guards.doc_id_space("dl21") == guards.doc_id_space("dl22") == "msmarco-v2"  # v2 passage ids
    assert guards.query_id_space("dl21") == guards.query_id_space("msmarco-dev600-train") == "msmarco"
    assert guards.doc_id_space("scifact-train") == guards.doc_id_space("scifact-test") == "scifact"
    assert guards.doc_id_space("cranfield") != guards.doc_id_space("cisi")
    assert set(guards.DOC_ID_SPACES) <= set(registry.DATASETS) | {"dl20"}
    assert set(guards.QUERY_ID_SPACES) <= set(registry.DATASETS) | {"dl20"}


def test_one_place() -> None:
    """synth and the training-example module use the guards from data/guards.py, not copies."""
    from rankscope import synth

    assert synth.EvalGuard is guards.EvalGuard and synth.load_eval_guard is guards.load_eval_guard
    assert synth.id_space is guards.doc_id_space and synth.parse_eval_sets is guards.parse_eval_sets
    assert examples.check_no_leak is guards.check_no_leak
    assert examples.drop_eval_queries is guards.drop_eval_queries
    assert examples.normalise_query is guards.normalise_query


def test_eval_guard_from_collections() -> None:
    corpus = {"d1": Document("d1", "Fleas live a year.", "Fleas"), "d2": Document("d2", "cats")}
    ev = Collection("scifact-test", {"1": "How long do FLEAS live?"}, {"1": {"d1": 1}}, corpus)
    guard = guards.EvalGuard.from_collections([ev])
    assert guard.judged_ids == {"scifact": {"d1"}} and "how long do fleas live" in guard.queries
    assert guard.is_judged(Document("d1", "other"), "scifact")
    assert not guard.is_judged(Document("d1", "other"), "cisi")  # another id space: ids coincide by chance
    assert guard.is_judged(Document("x", "fleas live a year"), "cisi")  # same text anywhere
    assert guard.is_judged(Document("d1", "other"), None)  # a corpus file: any space
    assert not guard.is_judged(corpus["d2"], "scifact")


def test_parse_eval_sets() -> None:
    assert guards.parse_eval_sets("dl19, scifact-test,dl19,") == ["dl19", "scifact-test"]
    assert guards.parse_eval_sets(["msmarco-dev600-dev"]) == ["msmarco-dev600-dev"]
    with pytest.raises(InputError, match="--eval-sets.*unknown dataset 'dl99'"):
        guards.parse_eval_sets("dl19,dl99")


def test_dev600_parts_do_not_leak_into_each_other() -> None:
    try:
        registry.data_root()
    except InputError:
        pytest.skip("no shared data")
    train = registry.load_dataset("msmarco-dev600-train")
    dev = registry.load_dataset("msmarco-dev600-dev")
    guards.check_no_leak(train.queries, dev, compare_ids=True)
    with pytest.raises(InputError, match="msmarco-dev-small"):
        guards.check_no_leak(train.queries, registry.load_dataset("msmarco-dev-small"))
    guard = guards.load_eval_guard(["msmarco-dev600-dev"])
    assert guard.judged_ids["msmarco"] == {d for docs in (dev.qrels or {}).values() for d in docs}
    assert guard.queries == {guards.normalise_query(t) for t in dev.queries.values()}


def test_normalising_folds_accents_and_keeps_other_scripts() -> None:
    from rankscope.data.examples import check_no_leak
    from rankscope.data.guards import normalise_query
    from rankscope.data.types import Collection

    assert normalise_query("Naïve  Bayes!") == normalise_query("naive bayes") == "naive bayes"  # a leak
    assert normalise_query("What is_this? 3.5") == "what is this 3 5"  # as before for plain ASCII
    assert normalise_query("北京の天気") != normalise_query("東京の人口は")  # both were "" and matched
    evalset = Collection("evalset", {"e1": "北京の天気", "e2": "naïve bayes"})
    check_no_leak({"t1": "東京の人口は"}, evalset)  # raised before
    with pytest.raises(InputError, match="naïve bayes"):
        check_no_leak({"t2": "Naive Bayes"}, evalset)  # missed before
