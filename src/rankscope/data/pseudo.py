"""Pseudo-labelled training data from unlabelled queries (TREC DL 2022's, say): a teacher's ranking of each
query's candidates gives the positives (its top `positives` documents) and the hard negatives (the documents
it ranks below a gap of `gap` ranks, down to rank `depth`). The gap leaves out the documents just below the
positives, the likeliest unjudged relevant ones. The teacher is any TREC run over the candidates: a
`rankscope rerank` run, or a fused one (`rankscope fuse --weight`).

The rows are FlagEmbedding jsonl (``{"query", "pos", "neg"}``, negatives in the teacher's order) that
training reads through ``train.files``; the stats go beside them (``NAME.pseudo.json``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rankscope.data import trainfile
from rankscope.data._io import iter_records
from rankscope.data.examples import hit_text
from rankscope.data.guards import check_no_leak, parse_eval_sets, query_id_space
from rankscope.data.readers import trec_order
from rankscope.data.registry import load_named
from rankscope.data.types import Candidates, Document
from rankscope.errors import InputError

KIND = "pseudo"


@dataclass
class PseudoLabels:
    rows: list[dict[str, object]]
    stats: dict[str, object]


def check_settings(positives: int, gap: int, depth: int) -> None:
    """Refuse settings that leave no negatives (named by their CLI option)."""
    if positives < 1:
        raise InputError(f"needs at least 1 positive per query, got {positives}", "--positives")
    if gap < 0:
        raise InputError(f"the gap of ranks cannot be negative, got {gap}", "--gap")
    if depth <= positives + gap:
        raise InputError(
            f"depth {depth} leaves no negatives below {positives} positives and a gap of {gap}", "--depth"
        )


def _run_line(path: str, qid: str, doc: str) -> int | None:
    """The line of a TREC run file that ranks `doc` for `qid` (None when `path` is not a file)."""
    if not Path(path).is_file():
        return None
    return next((n for n, parts in iter_records(path) if parts[:1] == [qid] and parts[2:3] == [doc]), None)


def pseudo_label(
    candidates: Candidates,
    queries: Mapping[str, str],
    teacher: Mapping[str, Mapping[str, float]],
    *,
    positives: int = 1,
    gap: int = 4,
    depth: int = 30,
    teacher_name: str = "teacher",
    corpus: Mapping[str, Document] | None = None,
) -> PseudoLabels:
    """One row per query that the teacher ranked: its top `positives` candidates as positives, its ranks
    `positives + gap + 1` .. `depth` as negatives. Only candidates the teacher scored count (a reranking
    of the first stage's top-k ranks those k); ties are ordered as in the teacher's run file (trec_eval's
    order: the larger document id first), and a passage text that
    recurs under another id (MS MARCO v2 repeats passages) counts once, at its best rank, so a positive's
    copy is never a negative. A hit without text takes its text from `corpus`. A teacher document that is
    not among the query's candidates, or a candidate without text, is an error; queries the teacher did not
    rank are skipped and counted."""
    check_settings(positives, gap, depth)
    rows: list[dict[str, object]] = []
    unranked: list[str] = []
    too_short: list[str] = []
    duplicates = 0
    for qid, hits in candidates.hits.items():
        scores = teacher.get(qid)
        if not scores:
            unranked.append(qid)
            continue
        by_id = {h.doc_id: h for h in hits}
        unknown = sorted(set(scores) - set(by_id))
        if unknown:
            line = _run_line(teacher_name, qid, unknown[0])
            raise InputError(
                f"teacher run ranks document {unknown[0]!r} for query {qid!r}, which is not among its "
                f"candidates ({len(unknown)} such)",
                teacher_name,
                line,
            )
        query = queries.get(qid) or candidates.queries.get(qid)
        if not query:
            raise InputError(f"query {qid!r} has no text", "--dataset")
        texts: list[str] = []
        for d, _ in trec_order(scores):
            text = hit_text(by_id[d], corpus)
            if not text or not text.strip():
                raise InputError(f"candidate {d!r} of query {qid!r} has no text to train on", "--candidates")
            if text in texts:
                duplicates += 1  # the same passage under another id: counted once, at its best rank
                continue
            texts.append(text)
            if len(texts) == depth:
                break
        if len(texts) <= positives + gap:
            too_short.append(qid)
            continue
        rows.append({"query": query, "pos": texts[:positives], "neg": texts[positives + gap :]})
    if not rows and not too_short:
        raise InputError(f"the teacher run ranks none of the {len(candidates.hits)} queries", teacher_name)
    if not rows:
        raise InputError(
            f"the teacher run ranks no query's candidates deep enough (more than {positives + gap} each)",
            teacher_name,
        )
    negs = [len(r["neg"]) for r in rows]  # type: ignore[arg-type]
    stats: dict[str, object] = {
        "teacher": teacher_name,
        "positives": positives,
        "gap": gap,
        "depth": depth,
        "queries": len(rows),
        "groups": len(rows) * positives,
        "negatives_per_query": {"min": min(negs), "max": max(negs), "mean": sum(negs) / len(negs)},
        "queries_not_ranked_by_teacher": len(unranked),
        "queries_too_shallow": len(too_short),
        "duplicate_passages_dropped": duplicates,
    }
    return PseudoLabels(rows, stats)


def run_pseudo_label(
    out: str | Path,
    teacher: str | Path,
    *,
    dataset: str | None = None,
    candidates: str | None = "bm25",
    queries: str | None = None,
    positives: int = 1,
    gap: int = 4,
    depth: int = 30,
    eval_sets: str | Sequence[str] = ("dl19", "scifact-test"),
    overwrite: bool = False,
) -> PseudoLabels:
    """Everything `rankscope pseudo-label` does: check, read the dataset and the teacher run, refuse
    queries of the evaluation sets `eval_sets` (labels for them would be training data on the test set),
    label, write the training file and its stats atomically."""
    from rankscope.data.readers import read_trec_run
    from rankscope.pipeline import load_inputs

    given = [teacher, candidates, queries]  # never replaced by the output (--overwrite)
    trainfile.check_output(out, overwrite, KIND, given)
    check_settings(positives, gap, depth)
    evals = parse_eval_sets(eval_sets)
    run = read_trec_run(teacher)
    inputs = load_inputs(dataset, candidates, queries=queries, depth=max(depth, 1000))
    for name in evals:
        ev = load_named(name)
        same_ids = dataset is not None and query_id_space(dataset) == query_id_space(name)
        try:
            check_no_leak(inputs.collection.queries, ev, compare_ids=same_ids)
        except InputError as e:
            msg = f"{e}: its pseudo-labels would train on the test set (--eval-sets '' labels it anyway)"
            raise InputError(msg, "--dataset" if dataset else "--queries") from None
    labels = pseudo_label(
        inputs.candidates,
        inputs.collection.queries,
        run,
        positives=positives,
        gap=gap,
        depth=depth,
        teacher_name=str(teacher),
        corpus=inputs.collection.corpus,
    )
    labels.stats["dataset"] = dataset or queries
    labels.stats["candidates"] = candidates
    trainfile.write_rows(labels.rows, labels.stats, out, KIND, overwrite, given)
    return labels


def stats_path(out: str | Path) -> Path:
    """Where the stats of `out` go: ``NAME.pseudo.json`` beside ``NAME.jsonl[.gz]``."""
    return trainfile.stats_path(out, KIND)
