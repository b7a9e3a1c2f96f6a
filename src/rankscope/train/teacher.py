"""Teacher scores for distillation and false-negative filtering: computed once over every training (and
held-out) group, cached in RUN/teacher_scores.jsonl, and reused on --resume.

An ensemble's score of a (query, document) is the weighted sum of its members' scores, each normalised
within the query (z-score over every document the groups hold for that query), so a cosine and a mean
log-probability can be added. A teacher file gives the scores directly: jsonl rows
{"query", "doc", "score"} (texts; "doc_id" = rankscope.data.examples.text_id(text) instead of "doc"
works too), or a TREC run whose query ids are the groups' and whose document ids are the training
datasets' (or text_id of the passage text).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from rankscope.config import ExperimentSpec, TeacherConfig, TeacherMember, TrainData
from rankscope.data.examples import Group, hit_text, text_id
from rankscope.errors import InputError
from rankscope.io import atomic_file, file_digest
from rankscope.scorers.base import Pair, Scorer

log = logging.getLogger("rankscope.train")
CACHE_FILE = "teacher_scores.jsonl"
PairKey = tuple[str, str]
"""(query text, text_id(document text)): how teacher scores are keyed."""


def pair_key(query: str, doc: str) -> PairKey:
    return query, text_id(doc)


def group_pairs(groups: Iterable[Group], spare: bool = False) -> list[tuple[PairKey, Pair]]:
    """Every distinct (query, document) of the groups, in first-seen order; with `spare`, their spare
    negatives too (what the false-negative filter refills from)."""
    seen: dict[PairKey, Pair] = {}
    for g in groups:
        for doc in (*g.docs, *g.spare) if spare else g.docs:
            seen.setdefault(pair_key(g.query, doc), Pair(g.query, doc))
    return list(seen.items())


@dataclass
class TeacherScores:
    """Raw scores per member for each pair, and the combined (normalised, weighted) teacher score."""

    members: list[str]
    raw: dict[PairKey, list[float]]
    combined: dict[PairKey, float]
    computed: int = 0
    """pairs scored by this call (0: everything came from the cache)."""

    def attach(self, groups: Sequence[Group]) -> tuple[list[Group], int]:
        """The groups with their teacher scores, and how many were left out for lack of one."""
        out, missing = [], 0
        for g in groups:
            keys = [pair_key(g.query, d) for d in g.docs]
            if all(k in self.combined for k in keys):
                spare = [
                    (d, self.combined.get(pair_key(g.query, d)), lab)
                    for d, lab in zip(g.spare, g.spare_grades(), strict=True)
                ]
                known = [(d, t, lab) for d, t, lab in spare if t is not None]
                out.append(
                    dataclasses.replace(
                        g,
                        teacher=tuple(self.combined[k] for k in keys),
                        spare=tuple(d for d, _, _ in known),
                        spare_teacher=tuple(t for _, t, _ in known),
                        spare_labels=tuple(lab for _, _, lab in known) if g.spare_labels else (),
                    )
                )
            else:
                missing += 1
        return out, missing


def member_dtype(cfg: TeacherConfig, device: str) -> torch.dtype:
    """The dtype the members score in: teacher.dtype resolved on this device."""
    from rankscope.runtime import pick_dtype

    return pick_dtype(cfg.dtype, device)


def members_of(cfg: TeacherConfig, device: str = "cpu") -> list[str]:
    """The cache's member labels: a member scored in bf16 is LABEL@bfloat16."""
    if cfg.file:  # its name and content: another file of the same name, or this one edited, is another
        return [f"file:{Path(cfg.file).name}#{file_digest(cfg.file)}"]
    tag = "@bfloat16" if member_dtype(cfg, device) == torch.bfloat16 else ""
    return [m.label + tag for m in cfg.scorers]


def combine(
    raw: dict[PairKey, list[float]], weights: Sequence[float], normalise: str = "zscore"
) -> dict[PairKey, float]:
    """sum_k w_k * z_k(query, doc), with z_k member k's score standardised over the query's documents
    (0 where a query has one document or a constant score); `normalise="none"` sums raw scores."""
    by_query: dict[str, list[PairKey]] = {}
    for key in raw:
        by_query.setdefault(key[0], []).append(key)
    out: dict[PairKey, float] = {}
    for keys in by_query.values():
        total = [0.0] * len(keys)
        for k, w in enumerate(weights):
            values = [raw[key][k] for key in keys]
            if normalise == "zscore":
                mean = sum(values) / len(values)
                std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
                values = [(v - mean) / std if std > 1e-12 else 0.0 for v in values]
            total = [t + w * v for t, v in zip(total, values, strict=True)]
        out.update(zip(keys, total, strict=True))
    return out


def read_cache(path: Path, members: list[str]) -> dict[PairKey, list[float]]:
    """Cached raw scores; empty when there is no cache or it was made by other members."""
    if not path.is_file():
        return {}
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    if not lines or lines[0].get("members") != members:
        log.warning("teacher cache %s was made by other teacher members: recomputing", path)
        return {}
    return {(r["query"], r["doc"]): [float(v) for v in r["scores"]] for r in lines[1:]}


def read_reused(where: str, members: list[str]) -> dict[PairKey, list[float]]:
    """`teacher.reuse`: another run's cache (its folder or the file), which must exist and be made by
    the same teacher members."""
    path = Path(where)
    if path.is_dir():
        path = path / CACHE_FILE
    if not path.is_file():
        raise InputError("teacher.reuse: no teacher cache here", path)
    with path.open() as f:
        header = f.readline()
    try:
        made_by = json.loads(header).get("members")
    except (json.JSONDecodeError, AttributeError):
        made_by = None
    if not isinstance(made_by, list):
        raise InputError("teacher.reuse: not a teacher cache (no members header)", path, 1)
    if made_by != members:
        msg = f"teacher.reuse: made by teacher members {made_by}, this spec's are {members}"
        raise InputError(msg, path, 1)
    return read_cache(path, members)


def write_cache(path: Path, members: list[str], raw: dict[PairKey, list[float]]) -> None:
    """Atomic (`atomic_file`): a killed run leaves the old cache or the new one, never half of one, and a
    failed write (a full disk) leaves no temporary copy."""
    with atomic_file(path) as tmp, tmp.open("w") as f:
        f.write(json.dumps({"members": members}) + "\n")
        for (query, doc), scores in raw.items():
            f.write(json.dumps({"query": query, "doc": doc, "scores": scores}) + "\n")


def _progress(label: str, total: int) -> Callable[[int], None]:
    """Logs 'teacher LABEL: n/total pairs' at about every tenth."""
    state = {"done": 0, "next": max(1, total // 10)}

    def advance(n: int) -> None:
        state["done"] += n
        if state["done"] >= state["next"] or state["done"] == total:
            log.info("teacher %s: %d/%d pairs", label, state["done"], total)
            state["next"] = state["done"] + max(1, total // 10)

    return advance


def build_member(member: TeacherMember, spec: ExperimentSpec, device: str) -> Scorer:
    """A member's scorer: the model with its zero-shot scorer (the spec's token budgets), or a trained run."""
    if member.run is not None:
        from rankscope.trained import load_run_scorer

        assert spec.teacher is not None
        return load_run_scorer(member.run, device=device, dtype=member_dtype(spec.teacher, device))[0]
    from rankscope.models.loading import load_backbone
    from rankscope.scorers.registry import build_for_backbone, get_scorer

    assert member.model is not None and member.scorer is not None
    kind = get_scorer(member.scorer, "teacher.scorers").kind
    assert spec.teacher is not None
    bb = load_backbone(member.model, kind=kind, dtype=member_dtype(spec.teacher, device), device=device)
    return build_for_backbone(
        member.scorer, bb, max_query_tokens=spec.max_query_tokens, max_doc_tokens=spec.max_doc_tokens
    )


def score_members(
    spec: ExperimentSpec, pairs: Sequence[tuple[PairKey, Pair]], device: str
) -> dict[PairKey, list[float]]:
    """Each ensemble member's scores of `pairs`, one member loaded at a time."""
    assert spec.teacher is not None
    per_member: list[list[float]] = []
    for member in spec.teacher.scorers:
        log.info("teacher %s: scoring %d pairs", member.label, len(pairs))
        scorer = build_member(member, spec, device)
        per_member.append(scorer.score([p for _, p in pairs], _progress(member.label, len(pairs))))
        del scorer
        gc.collect()
    return {key: [s[i] for s in per_member] for i, (key, _) in enumerate(pairs)}


def doc_ids(cfg: TrainData) -> dict[str, str]:
    """Passage text -> document id over the training datasets' candidates and corpora (TREC teachers)."""
    from rankscope.data.readers import read_candidates
    from rankscope.data.registry import load_dataset

    out: dict[str, str] = {}
    for name in cfg.datasets:
        coll = load_dataset(name)
        for d in (coll.corpus or {}).values():
            out.setdefault(d.full_text, d.doc_id)
        if cfg.candidates in coll.candidates:
            for hits in read_candidates(coll.candidates[cfg.candidates]).hits.values():
                for h in hits:
                    text = hit_text(h, coll.corpus)
                    if text:
                        out.setdefault(text, h.doc_id)
    return out


def read_teacher_file(path: str, groups: Sequence[Group], train_cfg: TrainData) -> dict[PairKey, list[float]]:
    """Scores of the groups' pairs found in a teacher file (jsonl of texts, or a TREC run)."""
    found: dict[PairKey, list[float]] = {}
    if path.endswith((".jsonl", ".jsonl.gz")):
        from rankscope.data._io import iter_json

        for lineno, row in iter_json(path):
            try:
                doc = row["doc_id"] if "doc_id" in row else text_id(row["doc"])
                found[(row["query"], doc)] = [float(row["score"])]
            except (KeyError, TypeError, ValueError):
                raise InputError("teacher rows need query, doc (or doc_id) and score", path, lineno) from None
        return found
    from rankscope.data.readers import read_trec_run

    run = read_trec_run(path)
    texts: dict[str, set[str]] = {}
    for g in groups:
        if g.qid in run:
            texts.setdefault(g.qid, set()).add(g.query)
    clash = next((q for q, t in texts.items() if len(t) > 1), None)
    if clash is not None:  # cranfield and cisi both number their queries 1, 2, ...
        raise InputError(
            f"query id '{clash}' names different queries in the training data, and a TREC run names queries "
            "by id only: give the teacher as a jsonl file of query and document texts",
            path,
        )
    ids = doc_ids(train_cfg) if train_cfg.datasets else {}
    for g in groups:
        hits = run.get(g.qid, {})
        for doc in (*g.docs, *g.spare):
            did = ids.get(doc, text_id(doc))
            score = hits.get(did, hits.get(text_id(doc)))
            if score is not None:
                found[pair_key(g.query, doc)] = [float(score)]
    return found


def teacher_scores(
    spec: ExperimentSpec, groups: Sequence[Group], out: Path, device: str = "cpu"
) -> TeacherScores:
    """The teacher's scores of every pair of `groups`: read from RUN/teacher_scores.jsonl where cached,
    the rest computed (an ensemble) or read (a file), then the cache rewritten."""
    cfg = spec.teacher
    if cfg is None:
        raise InputError("the spec has no teacher section", "teacher")
    members = members_of(cfg, device)
    path = out / CACHE_FILE
    pairs = group_pairs(groups, spare=spec.train.filter_negatives is not None)
    raw = read_cache(path, members)
    cached = sum(k in raw for k, _ in pairs)
    for other in cfg.reuse if cached < len(pairs) else []:  # a resume reads its own cache alone
        for key, scores in read_reused(other, members).items():
            raw.setdefault(key, scores)
    todo = [(k, p) for k, p in pairs if k not in raw]
    if not todo:
        log.info(
            "teacher scores of %d pairs read from %s", len(pairs), path if cached == len(pairs) else cfg.reuse
        )
    elif cfg.file:
        todo_groups = [g for g in groups if any(pair_key(g.query, d) not in raw for d in (*g.docs, *g.spare))]
        raw.update(read_teacher_file(cfg.file, todo_groups, spec.train))
    else:
        raw.update(score_members(spec, todo, device))
    if cached < len(pairs):  # this run's own cache, so a resume needs neither the reused runs nor scoring
        write_cache(path, members, {k: raw[k] for k, _ in pairs if k in raw})
        log.info("teacher scores of %d pairs cached in %s (%d computed)", len(pairs), path, len(todo))
    weights = [1.0] if cfg.file else [m.weight for m in cfg.scorers]
    wanted = {k: raw[k] for k, _ in pairs if k in raw}
    return TeacherScores(members, wanted, combine(wanted, weights, cfg.normalise), len(todo))
