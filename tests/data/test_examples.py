"""Training groups from qrels + candidates, files and BM25; the split by query; the leak guard."""

from __future__ import annotations

import pytest

from rankscope.data.examples import (
    Group,
    bge_groups,
    candidate_groups,
    check_no_leak,
    drop_eval_queries,
    groups_as_candidates,
    mine_bm25,
    pointwise_examples,
    split_by_query,
    split_pointwise,
    triple_groups,
)
from rankscope.data.types import Candidates, Collection, Document, Hit
from rankscope.errors import InputError

QUERIES = {"q1": "how long do fleas live", "q2": "do goldfish grow"}
QRELS = {"q1": {"d1": 2, "d2": 0, "d5": 1}, "q2": {"d3": 1}}
HITS = {
    "q1": [
        Hit("d9", 5, "unjudged above the positive"),
        Hit("d1", 4, "fleas live a year"),
        Hit("d2", 3, "judged zero"),
        Hit("d4", 2, "unjudged below"),
        Hit("d5", 1, "fleas again"),
    ],
    "q2": [Hit("d3", 1, "goldfish grow"), Hit("d6", 0.5, "cats")],
}


def test_hard_negatives_are_judged_zero_or_unjudged_below_the_best_positive() -> None:
    groups = candidate_groups(QUERIES, QRELS, Candidates(HITS), group_size=3, seed=1, source="s")
    q1 = [g for g in groups if g.qid == "q1"]
    assert len(q1) == 2  # one group per positive (d1 grade 2, d5 grade 1)
    for g in q1:
        assert g.docs[0] in {"fleas live a year", "fleas again"} and g.labels[0] in (2.0, 1.0)
        assert set(g.docs[1:]) == {"judged zero", "unjudged below"} and g.labels[1:] == (0.0, 0.0)
        assert "unjudged above the positive" not in g.docs
    q2 = next(g for g in groups if g.qid == "q2")
    assert q2.docs[1] == "cats" and len(q2.docs) == 3  # topped up by repeating when nothing else is left


def test_groups_keep_the_unused_hard_negatives_as_spares() -> None:
    hits = {"q2": [Hit("d3", 9, "goldfish grow"), *[Hit(f"n{i}", 5 - i, f"neg {i}") for i in range(5)]]}
    (group,) = candidate_groups(QUERIES, {"q2": {"d3": 1}}, Candidates(hits), 3, seed=0)
    assert len(group.spare) == 3 and set(group.spare) | set(group.docs[1:]) == {f"neg {i}" for i in range(5)}
    (bge,) = bge_groups([("q", ["P"], ["a", "b", "c", "a"])], 2, seed=0)
    assert set(bge.spare) == {"a", "b", "c"} - set(bge.docs[1:]) and len(bge.spare) == 2


def test_random_negatives_come_from_the_pool_and_are_seeded() -> None:
    pool = [f"passage {i}" for i in range(50)]
    a = candidate_groups(QUERIES, QRELS, Candidates(HITS), 4, negatives="random", random_pool=pool, seed=3)
    b = candidate_groups(QUERIES, QRELS, Candidates(HITS), 4, negatives="random", random_pool=pool, seed=3)
    assert a == b and all(d in pool for g in a for d in g.docs[1:])
    assert all(len(set(g.docs[1:])) == 3 for g in a)


def test_exclude_keeps_likely_relevant_documents_out() -> None:
    groups = candidate_groups(QUERIES, QRELS, Candidates(HITS), 3, exclude={"q1": {"d4"}})
    assert all("unjudged below" not in g.docs for g in groups)


def test_random_top_ups_are_never_the_querys_own_relevant_or_excluded_documents() -> None:
    # a short hard pool is topped up at random: the pool holds q1's other positive and an excluded passage
    pool = ["fleas live a year", "fleas again", "unjudged below", *[f"passage {i}" for i in range(6)]]
    hits = {
        "q1": [Hit("d1", 4, "fleas live a year"), Hit("d5", 1, "fleas again"), Hit("d4", 0, "unjudged below")]
    }
    qrels = {"q1": {"d1": 2, "d5": 1}}
    kw = {"random_pool": pool, "positives_per_query": 1, "exclude": {"q1": {"d4"}}}
    for seed in range(20):
        for negatives in ("hard", "random", "graded"):
            (g,) = candidate_groups(QUERIES, qrels, Candidates(hits), 5, negatives=negatives, seed=seed, **kw)
            assert "unjudged below" not in g.docs and len(set(g.docs)) == 5
            top = "fleas live a year" if g.labels[0] == 2.0 else "fleas again"
            others = set(g.docs[1:])
            if negatives == "graded" and top == "fleas live a year":
                # graded: a lower-graded document may be a negative, labelled with its grade
                assert "fleas live a year" not in others
                assert dict(zip(g.docs, g.labels, strict=True)).get("fleas again", 1.0) == 1.0
            else:
                assert not others & {"fleas live a year", "fleas again"}
                assert g.labels[1:] == (0.0,) * 4


def test_pointwise_examples_carry_grades() -> None:
    texts = {"d1": "a", "d2": "b", "d3": "c"}
    ex = pointwise_examples(QUERIES, QRELS, texts)
    assert [(g.qid, g.docs, g.labels) for g in ex] == [
        ("q1", ("a",), (2.0,)),
        ("q1", ("b",), (0.0,)),
        ("q2", ("c",), (1.0,)),
    ]
    split = split_pointwise([Group("q", "query", ("p", "n"), (1.0, 0.0))])
    assert [(g.docs, g.labels) for g in split] == [(("p",), (1.0,)), (("n",), (0.0,))]


def test_triples_and_bge_rows() -> None:
    triples = [("q a", "pos a", "neg a"), ("q b", "pos b", "neg b")]
    g = triple_groups(triples, group_size=3)
    assert (
        g[0].docs[:2] == ("pos a", "neg a")
        and g[0].docs[2] in {"pos b", "neg b"}
        and g[0].labels == (1, 0, 0)
    )
    rows = [("q", ["p1", "p2"], [f"n{i}" for i in range(10)])]
    b = bge_groups(rows, group_size=4)
    assert len(b) == 2 and {x.docs[0] for x in b} == {"p1", "p2"}
    assert all(d.startswith("n") for x in b for d in x.docs[1:]) and b[0].qid == b[1].qid


def test_split_by_query_is_seeded_disjoint_and_complete() -> None:
    ids = [f"q{i}" for i in range(20)] * 2
    train, dev = split_by_query(ids, 0.25, seed=7)
    assert len(dev) == 5 and not set(train) & set(dev) and set(train) | set(dev) == set(ids)
    assert split_by_query(ids, 0.25, seed=7) == (train, dev) and split_by_query(ids, 0.25, seed=8) != (
        train,
        dev,
    )
    assert split_by_query(ids, 0.0)[1] == []


def test_check_no_leak_by_id_and_normalised_text() -> None:
    ev = Collection("dl19", {"1037798": "Who is Robert Gray?"})
    check_no_leak({"5": "how long do fleas live"}, ev)
    with pytest.raises(InputError, match="1037798.*same id"):
        check_no_leak({"1037798": "another text"}, ev)
    with pytest.raises(InputError, match="in the training data"):
        check_no_leak(["who is robert gray"], ev)
    check_no_leak({"1037798": "other"}, ev, compare_ids=False)


def test_drop_eval_queries_drops_a_few_and_refuses_many() -> None:
    groups = [Group(f"q{i}", f"query number {i}", ("p", "n"), (1.0, 0.0), "s") for i in range(20)]
    kept, n = drop_eval_queries(groups, Collection("ev", {"x": "Query number 3?"}), compare_ids=False)
    assert n == 1 and len(kept) == 19 and all(g.qid != "q3" for g in kept)
    ev = Collection("ev", {f"e{i}": f"query number {i}" for i in range(5)})
    with pytest.raises(
        InputError, match="5 of the 20 training queries of s are queries of the evaluation set ev"
    ):
        drop_eval_queries(groups, ev)


def test_bm25_mining_excludes_answer_bearing_passages() -> None:
    corpus = {
        "g1": Document("g1", "the eiffel tower is 330 metres tall in paris"),
        "g2": Document("g2", "the tower of pisa leans; the eiffel tower is in paris, 330 metres"),
        "g3": Document("g3", "the eiffel tower was built by gustave eiffel"),
    }
    coll = Collection(
        "nq", {"q": "how tall is the eiffel tower"}, {"q": {"g1": 1}}, corpus, answers={"q": ["330 metres"]}
    )
    cands, exclude = mine_bm25(coll)
    assert {h.doc_id for h in cands.hits["q"]} == {"g1", "g2", "g3"} and exclude == {"q": {"g2"}}
    groups = candidate_groups(coll.queries, coll.qrels, cands, 2, corpus=corpus, exclude=exclude)
    assert groups[0].docs[1] == corpus["g3"].text


def test_groups_as_candidates_for_dev_reranking() -> None:
    groups = [
        Group("q", "query", ("p", "n1"), (1.0, 0.0), "s"),
        Group("q", "query", ("p2", "n1"), (1.0, 0.0), "s"),
    ]
    cands, qrels = groups_as_candidates(groups)
    assert [h.text for h in cands.hits["s/q"]] == ["p", "n1", "p2"]
    assert sorted(qrels["s/q"].values()) == [0, 1, 1]


def test_graded_negatives_add_lower_graded_documents_for_higher_graded_positives() -> None:
    qrels = {"q1": {"d1": 3, "d5": 1, "d2": 0}}
    hard = candidate_groups(QUERIES, qrels, Candidates(HITS), 4, min_relevance=2)
    graded = candidate_groups(QUERIES, qrels, Candidates(HITS), 4, negatives="graded", min_relevance=2)
    (h,), (g,) = hard, graded
    assert h.docs[0] == g.docs[0] == "fleas live a year" and h.labels == (3.0, 0.0, 0.0, 0.0)
    assert "fleas again" not in h.docs  # hard: a grade-1 document is never a negative
    assert set(g.docs[1:]) == {"judged zero", "unjudged below", "fleas again"}  # graded: below grade 3
    assert dict(zip(g.docs, g.labels, strict=True))["fleas again"] == 1.0  # labelled with its grade
    assert g.labels[0] == 3.0 and sorted(g.labels[1:]) == [0.0, 0.0, 1.0]
    # the unused ones are spares, with their grades (what the false-negative filter refills from)
    (one,) = candidate_groups(QUERIES, qrels, Candidates(HITS), 2, negatives="graded", min_relevance=2)
    grades = {"judged zero": 0.0, "unjudged below": 0.0, "fleas again": 1.0}
    assert len(one.spare) == 2 and one.spare_grades() == tuple(grades[t] for t in one.spare)
    # a grade-1 positive keeps only documents judged 0 (or unjudged below), as with hard negatives
    low = candidate_groups(QUERIES, {"q1": {"d5": 1, "d2": 0}}, Candidates(HITS), 3, negatives="graded")
    assert all(set(x.docs[1:]) <= {"judged zero", "unjudged below"} for x in low)


def test_graded_negatives_equal_hard_ones_on_binary_judgements() -> None:
    binary = QRELS | {"q1": {"d1": 1, "d2": 0}}
    kw = {"group_size": 3, "seed": 5, "source": "s"}
    hard = candidate_groups(QUERIES, binary, Candidates(HITS), **kw)
    assert hard == candidate_groups(QUERIES, binary, Candidates(HITS), negatives="graded", **kw)
    rows = [("q", ["P"], ["a", "b", "c"])]
    assert bge_groups(rows, 3, "graded", seed=1) == bge_groups(rows, 3, "hard", seed=1)


def test_a_passage_under_two_ids_counts_with_its_highest_grade() -> None:
    # "fleas again" is judged relevant as d5 and sits unjudged as d7 (dl21 has 595 such texts)
    hits = {
        "q1": [
            Hit("d1", 5, "fleas live a year"),
            Hit("d5", 4, "fleas again"),
            Hit("d2", 3, "judged zero"),
            Hit("d7", 2, "fleas again"),
            Hit("d8", 1, "also zero"),
        ]
    }
    qrels = {"q1": {"d1": 2, "d5": 1, "d2": 0, "d8": 0}}
    for seed in range(10):
        for negatives in ("hard", "graded"):
            groups = candidate_groups(
                QUERIES, qrels, Candidates(hits), 3, negatives=negatives, seed=seed, positives_per_query=1
            )
            for g in groups:
                label = dict(zip(g.docs, g.labels, strict=True))
                assert g.docs.count("fleas again") <= 1  # one text twice in a group before
                assert label.get("fleas again", 1.0) == 1.0  # its copy d7 was a label-0 negative
                assert all(lab < g.labels[0] for lab in g.labels[1:])


def test_excluded_passages_outside_the_hits_are_never_random_top_ups() -> None:
    corpus = {"dx": Document("dx", "flagged passage")}  # an LLM-flagged false negative, not in the hits
    hits = {"q1": [Hit("d1", 4, "fleas live a year")]}
    pool = ["flagged passage", *[f"passage {i}" for i in range(3)]]
    for seed in range(30):
        (g,) = candidate_groups(
            QUERIES,
            {"q1": {"d1": 1}},
            Candidates(hits),
            4,
            random_pool=pool,
            exclude={"q1": {"dx"}},
            corpus=corpus,
            seed=seed,
        )
        assert "flagged passage" not in g.docs


def test_triples_and_bge_rows_never_use_a_positive_as_a_negative() -> None:
    rows = [("q", ["P1", "P2"], ["N1", "P2", "N2"])]  # P2 listed among the negatives too
    for seed in range(10):
        for g in bge_groups(rows, group_size=3, seed=seed):
            assert not {"P1", "P2"} & set(g.docs[1:])
        triples = [("q", "P1", "N1"), ("q", "P2", "N2"), ("r", "R1", "N3")]
        for g in triple_groups(triples, group_size=4, seed=seed):
            assert g.qid != triple_groups(triples[:1], 2)[0].qid or not {"P1", "P2"} & set(g.docs[1:])
    assert bge_groups([("q", ["only positive"], [])], group_size=4) == []  # labels longer than docs before
