"""The training set a spec names: groups from datasets and files, split by query, checked for leaks."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from torch.utils.data import Dataset

from rankscope.config import TrainData
from rankscope.data.examples import (
    Group,
    bge_groups,
    candidate_groups,
    check_no_leak,
    drop_eval_queries,
    hit_text,
    mine_bm25,
    split_by_query,
    split_pointwise,
    triple_groups,
)
from rankscope.data.guards import normalise_query
from rankscope.data.guards import query_id_space as id_space
from rankscope.data.readers import read_bge_jsonl, read_msmarco_triples
from rankscope.data.registry import collection_candidates, load_named
from rankscope.data.types import Collection
from rankscope.errors import InputError

log = logging.getLogger("rankscope.train")


class GroupDataset(Dataset):
    """A list of groups as a torch Dataset (the Trainer's sampler shuffles it)."""

    def __init__(self, groups: list[Group]) -> None:
        self.groups = groups

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, i: int) -> Group:
        return self.groups[i]


@dataclass
class TrainingSet:
    train: list[Group]
    dev: list[Group]
    sources: dict[str, int] = field(default_factory=dict)
    """source -> groups built from it (before the split)."""
    dropped: dict[str, int] = field(default_factory=dict)
    """"source -> eval set": training queries dropped because that evaluation set holds them too."""


def dataset_groups(coll: Collection, cfg: TrainData, size: int) -> list[Group]:
    """Groups from a judged dataset: hard negatives from its named candidates, or mined with BM25."""
    if coll.qrels is None:
        raise InputError(f"dataset '{coll.name}' has no judgements to train on", "train.datasets")
    exclude: dict[str, set[str]] = {}
    if cfg.candidates in coll.candidates:
        cands = collection_candidates(coll, cfg.candidates)
    elif coll.corpus:
        cands, exclude = mine_bm25(coll)
    else:
        have = ", ".join(coll.candidates) or "none"
        raise InputError(
            f"dataset '{coll.name}' has no candidates '{cfg.candidates}' (has: {have}) and no corpus",
            "train.candidates",
        )
    if coll.corpus:
        pool = sorted(d.full_text for d in coll.corpus.values())
    else:
        pool = sorted({t for hits in cands.hits.values() for h in hits if (t := hit_text(h, None))})
    queries = {**cands.queries, **coll.queries}
    return candidate_groups(
        queries,
        coll.qrels,
        cands,
        size,
        corpus=coll.corpus,
        negatives=cfg.negatives,
        random_pool=pool,
        min_relevance=cfg.min_relevance,
        positives_per_query=cfg.positives_per_query,
        exclude=exclude,
        seed=cfg.seed,
        source=coll.name,
    )


def file_groups(
    path: str, cfg: TrainData, size: int, keep: Callable[[str], bool] | None = None
) -> list[Group]:
    """Groups from a FlagEmbedding jsonl (query/pos/neg) or an MS MARCO triples .tsv file; with `keep`,
    only the rows of queries it keeps, before any pool of random negatives is drawn from the rows."""
    name = Path(path).name
    if name.endswith((".jsonl", ".jsonl.gz")):
        rows = read_bge_jsonl(path)
        rows = [r for r in rows if keep is None or keep(r[0])]
        return bge_groups(rows, size, cfg.negatives, cfg.seed, source=name)
    if name.endswith((".tsv", ".tsv.gz")):
        triples = read_msmarco_triples(path)
        triples = [t for t in triples if keep is None or keep(t[0])]
        return triple_groups(triples, size, cfg.seed, source=name)
    raise InputError("training file must be a query/pos/neg .jsonl or a triples .tsv", path)


def _one_of(texts: set[str]) -> Callable[[str], bool]:
    return lambda query: normalise_query(query) in texts


def _drop(
    groups: list[Group], ev: Collection, compare_ids: bool, source: str, dropped: dict[str, int]
) -> list[Group]:
    kept, n = drop_eval_queries(groups, ev, compare_ids)
    if n:
        dropped[f"{source} -> {ev.name}"] = n
        log.warning("dropped %d training queries of %s that %s also holds", n, source, ev.name)
    return kept


def _cap(groups: list[Group], max_queries: int | None, seed: int) -> list[Group]:
    if not max_queries:
        return groups
    keys = sorted({g.key for g in groups})
    random.Random(seed).shuffle(keys)
    keep = set(keys[:max_queries])
    return [g for g in groups if g.key in keep]


def build_training_set(cfg: TrainData, eval_sets: list[str], pointwise: bool = False) -> TrainingSet:
    """Every source's groups (size `group_size`; pairs split into single documents when `pointwise`),
    capped per source at `max_queries`, checked against `eval_sets`, then split by query."""
    size = 2 if pointwise else cfg.group_size
    evals = {name: load_named(name) for name in dict.fromkeys(eval_sets)}
    groups: list[Group] = []
    sources: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for name in cfg.datasets:
        if name in evals:
            raise InputError(
                f"'{name}' is an evaluation set (eval_sets): never train on it", "train.datasets"
            )
        coll = load_named(name)
        got = dataset_groups(coll, cfg, size)
        for ev in evals.values():
            got = _drop(got, ev, id_space(ev.name) == id_space(name), name, dropped)
        got = _cap(got, cfg.max_queries, cfg.seed)
        for ev in evals.values():
            check_no_leak({g.qid: g.query for g in got}, ev, compare_ids=id_space(ev.name) == id_space(name))
        groups += got
        sources[name] = len(got)
    for path in cfg.files:
        got = file_groups(path, cfg, size)
        kept = got
        for ev in evals.values():
            kept = _drop(kept, ev, False, path, dropped)
        if len(kept) < len(got):  # built again without those rows: their passages filled others' pools
            got = file_groups(path, cfg, size, keep=_one_of({normalise_query(g.query) for g in kept}))
        got = _cap(got, cfg.max_queries, cfg.seed)
        for ev in evals.values():
            check_no_leak([g.query for g in got], ev, compare_ids=False)
        groups += got
        sources[path] = len(got)
    if not groups:
        raise InputError("the training data gave no groups (no judged positives with negatives)", "train")
    train_keys, dev_keys = split_by_query([g.key for g in groups], cfg.dev_fraction, cfg.split_seed)
    dev_set = set(dev_keys)
    train = [g for g in groups if g.key not in dev_set]
    # a held-out query whose text a training query also has (two sources, or one dataset holding it twice)
    # would be judged on what was trained: it leaves the dev set (and is trained under its other id only)
    seen = {normalise_query(g.query) for g in train}
    dev = [g for g in groups if g.key in dev_set and normalise_query(g.query) not in seen]
    if left := {g.key for g in groups if g.key in dev_set} - {g.key for g in dev}:
        log.info("%d held-out queries left out of the dev set: a training query has the same text", len(left))
    if pointwise:
        train = split_pointwise(train)
    if not train:
        raise InputError(
            "no training groups are left after holding out the dev queries", "train.dev_fraction"
        )
    return TrainingSet(train, dev, sources, dropped)
