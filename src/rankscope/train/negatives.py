"""False-negative filtering of mined negatives with a teacher, and its precision/recall against a judge.

A mined "negative" the teacher scores at or above (its group's positive - margin) is likely relevant
(MS MARCO judges one passage per query); training it down teaches the reranker the wrong thing. Dropped
negatives are replaced by the query's other negatives that pass (those of its other groups and the mined
negatives no group used, `Group.spare`), so groups keep their size; a group that cannot be refilled is
dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rankscope.data.examples import Group


@dataclass
class FilteredGroups:
    """Groups after the filter; `dropped` maps query text -> the negative texts it no longer trains on
    (dropped from a group, and a negative in none of the query's groups)."""

    groups: list[Group]
    dropped: dict[str, set[str]] = field(default_factory=dict)
    groups_dropped: int = 0
    """groups left out because too few negatives passed to refill them."""

    @property
    def n_dropped(self) -> int:
        return sum(len(v) for v in self.dropped.values())

    def __iter__(self) -> Iterator[Any]:
        """Unpacks as `groups, dropped = filter_false_negatives(...)`."""
        return iter((self.groups, self.dropped))


def filter_false_negatives(groups: Sequence[Group], margin: float = 0.0) -> FilteredGroups:
    """Drop each group's negatives whose teacher score is >= teacher(positive) - margin; refill from the
    query's other negatives (with their teacher scores) that pass the same test. Groups need `teacher`
    scores (TeacherScores.attach) and the positive at index 0; the pool to refill from is every negative of
    the query's groups (by source and query id) and their spare negatives (`Group.spare`) that have a
    teacher score, each with its grade: a group refills only with documents graded below its positive
    (graded negatives)."""
    by_query: dict[str, dict[str, tuple[float, float]]] = {}
    for g in groups:
        if g.teacher is None:
            raise ValueError("filter_false_negatives needs groups with teacher scores")
        pool = by_query.setdefault(g.key, {})  # by query id: one text under two ids has its own judgements
        for doc, label, t in zip(g.docs[1:], g.labels[1:], g.teacher[1:], strict=True):
            if label < g.labels[0]:
                pool.setdefault(doc, (t, label))
        for doc, t, label in zip(g.spare, g.spare_teacher or (), g.spare_grades(), strict=False):
            pool.setdefault(doc, (t, label))
    out = FilteredGroups([])
    for g in groups:
        assert g.teacher is not None
        bar = g.teacher[0] - margin
        keep = [(d, lab, t) for d, lab, t in zip(g.docs[1:], g.labels[1:], g.teacher[1:], strict=True)]
        bad = {d for d, lab, t in keep if lab < g.labels[0] and t >= bar}
        if not bad:
            out.groups.append(g)
            continue
        out.dropped.setdefault(g.query, set()).update(bad)
        keep = [row for row in keep if row[0] not in bad]
        have = {d for d, _, _ in keep} | {g.docs[0]}
        spare = [
            (d, lab, t)
            for d, (t, lab) in by_query[g.key].items()
            if t < bar and lab < g.labels[0] and d not in have
        ]
        keep += spare[: len(g.docs) - 1 - len(keep)]
        if len(keep) < len(g.docs) - 1:
            out.groups_dropped += 1
            continue
        out.groups.append(
            dataclasses.replace(
                g,
                docs=(g.docs[0], *[d for d, _, _ in keep]),
                labels=(g.labels[0], *[lab for _, lab, _ in keep]),
                teacher=(g.teacher[0], *[t for _, _, t in keep]),
            )
        )
    # a passage dropped from one group of a query may stay a negative in another (the bar is the group's
    # positive): `dropped` lists only what no group of the query trains on as a negative any more
    for g in out.groups:
        if g.query in out.dropped:
            out.dropped[g.query] -= set(g.docs[1:])
    out.dropped = {q: docs for q, docs in out.dropped.items() if docs}
    return out


@dataclass
class FilterQuality:
    """The filter against a judge's flags, counted over (query, negative) pairs of the judged queries."""

    precision: float | None
    """share of dropped negatives the judge flagged (None when nothing was dropped)."""
    recall: float | None
    """share of flagged negatives the filter dropped (None when nothing was flagged)."""
    flagged: int
    dropped: int
    both: int
    queries: int


def filter_quality(
    flagged: Mapping[str, Collection[str]],
    dropped: Mapping[str, Collection[str]],
    queries: Iterable[str] | None = None,
) -> FilterQuality:
    """Precision and recall of `dropped` (query -> dropped negatives) against `flagged` (query -> the
    negatives a judge called relevant, e.g. the LLM flags of rlhn_msmarco_25q.jsonl). Only `queries`
    count, by default the judged ones: every key of `flagged`, with an empty set where nothing was
    flagged. Keys and documents must be spelled alike on both sides (query text and passage text, as
    FilteredGroups.dropped has them)."""
    judged = set(flagged if queries is None else queries)
    f = {(q, d) for q in judged for d in flagged.get(q, ())}
    d = {(q, x) for q in judged for x in dropped.get(q, ())}
    both = len(f & d)
    return FilterQuality(
        precision=both / len(d) if d else None,
        recall=both / len(f) if f else None,
        flagged=len(f),
        dropped=len(d),
        both=both,
        queries=len(judged),
    )
