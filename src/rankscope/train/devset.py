"""The dev set of a spec, one implementation for training (metrics.jsonl) and inspection.

A named dev dataset is reranked over its candidates; otherwise the held-out training queries' groups
are, with their judgements binarised at `train.min_relevance` (sources mix graded and binary
judgements, so RR@10 must count every positive). Both callers therefore measure the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rankscope.config import ExperimentSpec
from rankscope.data.examples import Group, groups_as_candidates
from rankscope.data.types import Candidates, Document, Qrels
from rankscope.errors import InputError

FEW_DEV_QUERIES = 50
"""Below this many judged dev queries, training warns that the best checkpoint and the health verdicts
rest on few queries (seen here: a seed whose 20 selection queries showed no gain read +0.030 RR@10 on
the dev part's 139)."""


@dataclass
class DevSet:
    """What each dev evaluation reranks (candidates + qrels) and scores the loss on (held-out groups)."""

    candidates: Candidates
    queries: dict[str, str]
    qrels: Qrels
    corpus: dict[str, Document] | None
    groups: Sequence[Group] = field(default_factory=list)
    depth: int = 30
    pairwise_top: int = 10
    batch_size: int = 8
    source: str = "held-out training queries"
    min_relevance: int = 1
    """the lowest grade the health checks count as a positive (the spec's train.min_relevance)"""

    @property
    def measures(self) -> list[str]:
        """nDCG@10 and RR@10, counting only grade >= 2 as relevant for RR on graded qrels."""
        graded = any(r >= 2 for d in self.qrels.values() for r in d.values())
        return ["nDCG@10", "RR(rel=2)@10" if graded else "RR@10"]


DEV_FIELDS = {"--candidates": "dev.candidates", "--depth": "dev.depth", "--max-queries": "dev.max_queries"}


def build_dev_set(
    spec: ExperimentSpec, held_out: Sequence[Group] | None = None, max_queries: int | None = None
) -> DevSet:
    """The spec's dev set, capped at `max_queries` (default the spec's dev.max_queries). `held_out` are
    the training set's held-out groups; when None they are rebuilt with the spec's seed (inspection)."""
    d = spec.dev
    cap = max_queries or d.max_queries
    if d.dataset:
        from rankscope.pipeline import load_inputs

        try:
            inputs = load_inputs(d.dataset, d.candidates, depth=d.depth, max_queries=cap)
        except InputError as e:  # name the spec's field, not the rerank option it shares a check with
            field = DEV_FIELDS.get(e.path or "")
            if field is None:
                raise
            raise InputError(str(e).removeprefix(f"{e.path}: "), field) from None
        coll = inputs.collection
        return DevSet(
            inputs.candidates,
            coll.queries,
            coll.qrels or {},
            coll.corpus,
            list(held_out or []),
            d.depth,
            d.pairwise_top,
            source=d.dataset,
            min_relevance=spec.train.min_relevance,
        )
    if held_out is None:
        from rankscope.train.data import build_training_set

        eval_sets = list(spec.eval_sets)
        held_out = build_training_set(spec.train, eval_sets, pointwise=spec.train.group_size == 1).dev
    if not held_out:
        why = (
            f"train.dev_fraction {spec.train.dev_fraction} held out no training query (too few queries?)"
            if spec.train.dev_fraction > 0
            else "train.dev_fraction is 0"
        )
        raise InputError(
            f"the run has no dev set: {why}; set dev.dataset or a larger train.dev_fraction", "dev"
        )
    keys = set(sorted({g.key for g in held_out})[:cap])
    groups = [g for g in held_out if g.key in keys]
    cands, qrels = groups_as_candidates(groups)
    low = spec.train.min_relevance
    qrels = {q: {doc: int(r >= low) for doc, r in docs.items()} for q, docs in qrels.items()}
    return DevSet(cands, dict(cands.queries), qrels, None, list(held_out), d.depth, d.pairwise_top)


def few_queries_notice(dev: DevSet, measure: str, cap: int | None) -> str | None:
    """A warning when the dev measure that chooses the best checkpoint averages over fewer than
    FEW_DEV_QUERIES judged queries. None for dev_loss or a large enough dev set."""
    n = sum(1 for q in dev.candidates.hits if dev.qrels.get(q))
    if measure == "dev_loss" or n >= FEW_DEV_QUERIES or n == 0:
        return None
    capped = cap is not None and len(dev.candidates.hits) >= cap
    more = (
        f"; dev.max_queries ({cap}) caps it: a larger value (or null, all) judges on more" if capped else ""
    )
    queries = "query" if n == 1 else "queries"
    return (
        f"the best checkpoint and the health verdicts (dev {measure}) rest on {n} judged dev {queries}: one "
        f"query's first relevant document falling from rank 1 to 2 moves a mean reciprocal rank by "
        f"1/(2 x {n}) = {1 / (2 * n):.3f}{more}"
    )
