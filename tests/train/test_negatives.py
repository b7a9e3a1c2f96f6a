"""False-negative filtering: negatives the teacher scores near or above the positive go, groups are refilled
from the query's other negatives, and the filter is measured against a judge's flags."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from rankscope.data.examples import Group
from rankscope.train.negatives import filter_false_negatives, filter_quality
from rankscope.train.run import train


def g(query: str, docs: str, teacher: tuple[float, ...]) -> Group:
    return Group(query, query, tuple(docs), (1.0, *[0.0] * (len(docs) - 1)), "t", teacher)


def test_drops_negatives_within_the_margin_and_refills_from_the_query() -> None:
    groups = [
        g("q1", "pab", (2.0, 2.5, 0.0)),  # a above the positive: dropped, refilled with c
        g("q1", "Pcd", (1.0, -1.0, 0.9)),  # d within 0.5 of P: dropped, refilled with b (not a: 2.5)
        g("q2", "pxy", (1.0, 0.0, -1.0)),  # nothing to drop
        g("q3", "pxy", (1.0, 3.0, 2.0)),  # both dropped, nothing to refill from: the group goes
    ]
    kept = filter_false_negatives(groups, margin=0.5)
    assert kept.dropped == {"q1": {"a", "d"}, "q3": {"x", "y"}}
    assert kept.n_dropped == 4 and kept.groups_dropped == 1
    assert [x.docs for x in kept.groups] == [("p", "b", "c"), ("P", "c", "b"), ("p", "x", "y")]
    assert kept.groups[0].teacher == (2.0, 0.0, -1.0) and kept.groups[0].labels == (1.0, 0.0, 0.0)
    groups_, dropped = filter_false_negatives(groups, margin=-10.0)  # unpacks; a negative margin keeps all
    assert dropped == {} and groups_ == groups
    with pytest.raises(ValueError, match="teacher"):
        filter_false_negatives([Group("q", "q", ("a", "b"), (1.0, 0.0))])


def test_two_query_ids_with_one_text_refill_from_their_own_negatives() -> None:
    # scifact-train holds one claim as qid 89 and qid 90: 90's negative "r" is 89's relevant document
    a = Group("89", "claim", ("p", "x", "y"), (1.0, 0.0, 0.0), "s", (1.0, 2.0, 0.0))  # x goes: refill?
    b = Group("90", "claim", ("q", "r", "z"), (1.0, 0.0, 0.0), "s", (1.0, -1.0, -2.0))
    kept = filter_false_negatives([a, b], margin=0.5)
    assert all("r" not in x.docs for x in kept.groups if x.qid == "89")  # r refilled 89's group before
    assert kept.groups_dropped == 1


def test_a_lone_group_is_refilled_from_its_spare_negatives() -> None:
    lone = Group("q", "q", ("p", "a", "b"), (1.0, 0.0, 0.0), "t", (1.0, 2.0, 0.0), ("s", "t"), (0.5, 3.0))
    kept = filter_false_negatives([lone], margin=0.0)
    assert kept.groups_dropped == 0 and kept.dropped == {"q": {"a"}}
    assert kept.groups[0].docs == ("p", "b", "s") and kept.groups[0].teacher == (1.0, 0.0, 0.5)


def test_graded_groups_refill_only_below_their_positive_and_keep_the_grades() -> None:
    # one query, graded negatives: the grade-3 group's negatives and spares hold grade-2 and grade-1 documents
    top = Group(
        "q",
        "q",
        ("P3", "g1", "z"),
        (3.0, 1.0, 0.0),
        "t",
        (5.0, 0.2, 0.0),  # g1 first in the pool, below P1's teacher score
        spare=("g2", "z2"),
        spare_teacher=(0.5, -1.0),
        spare_labels=(2.0, 0.0),
    )
    low = Group("q", "q", ("P1", "a", "b"), (1.0, 0.0, 0.0), "t", (1.0, 2.0, 0.0))  # a: dropped
    kept = filter_false_negatives([top, low], margin=0.0)
    refilled = kept.groups[1]
    assert kept.dropped == {"q": {"a"}} and refilled.docs[:2] == ("P1", "b")
    assert refilled.docs[2] == "z" and refilled.labels == (1.0, 0.0, 0.0)  # never g1 (1) nor g2 (2)
    # a grade-3 group refills with a grade-2 spare and keeps its grade as the label
    hi = dataclasses.replace(top, teacher=(5.0, 6.0, 0.0))  # g1 now above the positive: dropped
    (again,) = filter_false_negatives([hi], margin=0.0).groups
    assert again.docs == ("P3", "z", "g2") and again.labels == (3.0, 0.0, 2.0)


def test_filter_quality_counts_pairs_of_judged_queries() -> None:
    flagged = {"q1": {"a", "b"}, "q2": set(), "q3": {"z"}}
    dropped = {"q1": {"a", "c"}, "q2": {"x"}, "unjudged": {"k"}}
    q = filter_quality(flagged, dropped)
    assert (q.both, q.dropped, q.flagged, q.queries) == (1, 3, 3, 3)
    assert q.precision == pytest.approx(1 / 3) and q.recall == pytest.approx(1 / 3)
    none = filter_quality({"q": set()}, {})
    assert none.precision is None and none.recall is None


def test_rlhn_flags_as_filter_input() -> None:
    """The interface a reader of rlhn_msmarco_25q.jsonl meets: query text -> flagged negative texts."""
    row = {"query": "q", "pos": ["P"], "neg": ["n0", "n1", "n2"], "llm_flagged_neg": [1]}
    flagged = {row["query"]: {row["neg"][i] for i in row["llm_flagged_neg"]}}
    group = g("q", ["P", *row["neg"]], (1.0, 0.0, 1.2, 0.95))
    kept = filter_false_negatives([group], margin=0.1)
    q = filter_quality(flagged, kept.dropped)
    assert kept.dropped == {"q": {"n1", "n2"}} and q.recall == 1.0 and q.precision == 0.5


def test_training_with_the_filter_logs_and_lists_what_it_dropped(
    make_spec, triples_file: Path, tmp_path: Path
) -> None:
    lines = [ln.split("\t") for ln in triples_file.read_text().splitlines()]
    rows = [
        {"query": q, "doc": d, "score": 1.0 if i == 0 else 0.0} for q, *ds in lines for i, d in enumerate(ds)
    ]
    for i in range(4):
        rows[2 * i + 1]["score"] = 5.0  # the first 4 queries' negatives score above their positives
    teacher = tmp_path / "teacher.jsonl"
    teacher.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = make_spec(
        teacher={"file": str(teacher)},
        train={"group_size": 2, "filter_negatives": {"margin": 0.0}},
    )
    train(spec, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    log = (tmp_path / "run" / "train.log").read_text()
    dropped = [
        json.loads(x) for x in (tmp_path / "run" / "filtered_negatives.jsonl").read_text().splitlines()
    ]
    stats = summary["filter_negatives"]
    assert stats["dropped"] == stats["groups_left_out"] == len(dropped) >= 1  # 1 group a query: no refill
    assert {d["query"] for d in dropped} <= {q for q, _, _ in lines[:4]}
    assert "false-negative filter (margin 0): dropped" in log


def test_dropped_lists_only_what_no_group_trains_on_any_more() -> None:
    # "a" is within the margin of P (dropped there) but far below p, so p's group keeps it
    groups = [g("q1", "pab", (5.0, 0.0, -1.0)), g("q1", "Pcd", (1.0, 0.8, -1.0))]
    kept = filter_false_negatives([*groups, g("q1", "Pad", (1.0, 0.9, -1.0))], margin=0.5)
    assert "a" in kept.groups[0].docs and kept.dropped == {"q1": {"c"}}  # "a" was listed too before
    only = filter_false_negatives([g("q2", "pab", (1.0, 0.9, -1.0)), g("q2", "Pcd", (1.0, -2.0, -1.0))], 0.5)
    assert only.dropped == {"q2": {"a"}} and all("a" not in x.docs for x in only.groups)
