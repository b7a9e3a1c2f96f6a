"""Precision and recall of rankscope's false-negative filter against an LLM judge's flags.

The RLHN samples (../shared/data/msmarco-passage-train-samples/rlhn_msmarco_25q.jsonl) hold 25 MS MARCO
train queries, each with its positive, 25 mined hard negatives and the negatives an LLM judge flagged as
relevant (likely false negatives). Each query's positive and negatives are scored by a teacher (one
scorer, or a weighted ensemble of z-scored scorers, as `teacher:` in a spec does), and the filter the
trainer applies (`train.filter_negatives: {margin: M}`: drop negatives scored >= positive - M) is run
on them at several margins. A filter that drops at random has precision = the flagged share.

    .venv/bin/python bench/negative_filter.py [--teacher bi-encoder:minilm-l6 ...] [--margins 0 0.5 1]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rankscope import Reranker
from rankscope.data.examples import Group
from rankscope.data.registry import RLHN_FILE, data_root
from rankscope.data.rlhn import read_rlhn
from rankscope.train.negatives import filter_false_negatives, filter_quality
from rankscope.train.teacher import combine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path, default=None, help="RLHN jsonl (default: the shared data's)")
    ap.add_argument(
        "--teacher",
        nargs="+",
        default=["bi-encoder:minilm-l6"],
        help="scorer:model[:weight] members of the teacher ensemble",
    )
    ap.add_argument("--margins", nargs="+", type=float, default=[0.0, 0.5, 1.0, 1.5])
    args = ap.parse_args()
    rows = read_rlhn(args.file or data_root() / RLHN_FILE)
    members = []
    for item in args.teacher:
        scorer, model, *w = item.split(":")
        members.append((scorer, model, float(w[0]) if w else 1.0))
    raw: dict[tuple[str, str], list[float]] = {}
    for i, (scorer, model, _) in enumerate(members):
        reranker = Reranker.load(model, scorer=scorer)
        for row in rows:
            docs = [row.positives[0].text, *(d.text for d in row.negatives)]
            for doc, s in zip(docs, reranker.score(row.query, docs), strict=True):
                # member i's score at index i, once per (query, text) even where a text repeats
                raw.setdefault((row.query, doc), [0.0] * len(members))[i] = s
    teacher = combine(raw, [w for *_, w in members])
    groups = []
    for row in rows:
        docs = (row.positives[0].text, *(d.text for d in row.negatives))
        labels = (1.0, *([0.0] * len(row.negatives)))
        scores = tuple(teacher[(row.query, d)] for d in docs)
        groups.append(Group(row.qid, row.query, docs, labels, "rlhn", scores))
    flagged = {r.query: {d.text for d in r.negatives if d.doc_id in r.flagged} for r in rows}
    n_neg = sum(len(r.negatives) for r in rows)
    n_flag = sum(len(v) for v in flagged.values())
    print(f"teacher: {' + '.join(args.teacher)} (z-scored per query)")
    print(f"{len(rows)} queries, {n_neg} negatives, {n_flag} flagged", end=" ")
    print(f"({n_flag / n_neg:.1%}: the precision of a filter that drops at random)")
    print("margin  dropped  flagged&dropped  precision  recall")
    for m in args.margins:
        kept = filter_false_negatives(groups, margin=m)
        q = filter_quality(flagged, kept.dropped)
        prec = f"{q.precision:.3f}" if q.precision is not None else "-"
        rec = f"{q.recall:.3f}" if q.recall is not None else "-"
        print(f"{m:6.2f}  {q.dropped:7d}  {q.both:15d}  {prec:>9}  {rec:>6}")


if __name__ == "__main__":
    main()
