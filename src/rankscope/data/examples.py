"""Training examples: groups of 1 positive + n negatives (or single judged pairs) and a split by query.

The guards that no evaluation query reaches training live in `rankscope.data.guards` (re-exported here)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rankscope.data.guards import check_no_leak as check_no_leak  # re-exported: train/data.py imports it here
from rankscope.data.guards import drop_eval_queries as drop_eval_queries
from rankscope.data.guards import normalise_query as normalise_query
from rankscope.data.nq import normalize_answer
from rankscope.data.types import Candidates, Collection, Document, Hit, Qrels, text_id
from rankscope.errors import InputError
from rankscope.retrieve.bm25 import bm25_retrieve


@dataclass(frozen=True)
class Group:
    """One query with documents and graded labels; in grouped data the positive is at index 0."""

    qid: str
    query: str
    docs: tuple[str, ...]
    labels: tuple[float, ...]
    source: str = ""
    teacher: tuple[float, ...] | None = None
    """a teacher's score of each document (distillation, false-negative filtering), when known."""
    spare: tuple[str, ...] = ()
    """the query's other mined negatives, not in this group: what the false-negative filter refills from."""
    spare_teacher: tuple[float, ...] | None = None
    """the teacher's score of each spare negative, when known."""
    spare_labels: tuple[float, ...] = ()
    """the grade of each spare negative (graded negatives: each below this group's positive); empty: all 0."""

    def spare_grades(self) -> tuple[float, ...]:
        """The grade of each spare negative (0 where the group records none)."""
        return self.spare_labels or (0.0,) * len(self.spare)

    @property
    def key(self) -> str:
        """Query identity across sources (what the train/dev split is made on)."""
        return f"{self.source}/{self.qid}"


def _rng(seed: int, *parts: str) -> random.Random:
    return random.Random(f"{seed}:" + ":".join(parts))


def hit_text(hit: Hit, corpus: Mapping[str, Document] | None) -> str | None:
    if hit.text:
        return hit.text
    if corpus is not None and hit.doc_id in corpus:
        return corpus[hit.doc_id].full_text
    return None


def pointwise_examples(
    queries: Mapping[str, str],
    qrels: Qrels,
    texts: Mapping[str, str],
    source: str = "",
) -> list[Group]:
    """One single-document group per judged (query, document) with text, labelled with its grade."""
    out = []
    for qid in sorted(qrels):
        if qid not in queries:
            continue
        for did, rel in sorted(qrels[qid].items()):
            if did in texts:
                out.append(Group(qid, queries[qid], (texts[did],), (float(rel),), source))
    return out


def _fill(negs: list[str], n: int, pool: Sequence[str], exclude: set[str], rng: random.Random) -> list[str]:
    """`negs` topped up to `n` from `pool` (random negatives), with repeats only when nothing else is left."""
    out = list(negs[:n])
    tries = 0
    while len(out) < n and pool and tries < 20 * n:
        t = pool[rng.randrange(len(pool))]
        tries += 1
        if t not in exclude and t not in out:
            out.append(t)
    while out and len(out) < n:
        out.append(out[rng.randrange(len(out))])
    return out


def candidate_groups(
    queries: Mapping[str, str],
    qrels: Qrels,
    candidates: Candidates,
    group_size: int,
    *,
    corpus: Mapping[str, Document] | None = None,
    negatives: str = "hard",
    random_pool: Sequence[str] = (),
    min_relevance: int = 1,
    positives_per_query: int = 4,
    exclude: Mapping[str, set[str]] | None = None,
    seed: int = 0,
    source: str = "",
) -> list[Group]:
    """Groups of 1 judged positive + (group_size - 1) negatives per query.

    Hard negatives are candidates judged 0, or unjudged and ranked below the query's best positive (an
    unjudged document above it may well be relevant); `exclude` names other documents never to use.
    Graded negatives add, for a positive of grade g, the candidates judged above 0 and below g (a grade-3
    positive then also outranks grade-1 and grade-2 documents, which nDCG on graded judgements rewards);
    on binary judgements they are the hard negatives. A negative's label is its grade (0 unless graded),
    always below the positive's. Random negatives come from `random_pool`; a short hard pool is topped up
    from it."""
    out = []
    n = group_size - 1
    for qid in sorted(qrels):
        if qid not in queries:
            continue
        judged = qrels[qid]
        hits = candidates.hits.get(qid, [])
        texts = {h.doc_id: hit_text(h, corpus) for h in hits}
        # one passage can sit under several ids (dl21 has 595 such texts, some judged apart): a copy of a
        # text judged relevant counts with that grade, so it is never a negative below it
        judged_text = {d: _text_of(d, texts, corpus) for d in judged}
        text_grade: dict[str, int] = {}
        for d, r in judged.items():
            if text := judged_text[d]:
                text_grade[text] = max(r, text_grade.get(text, r))
        pos = []
        for d, r in sorted(judged.items(), key=lambda kv: (-kv[1], kv[0])):
            if r >= min_relevance and judged_text[d]:
                pos.append((judged_text[d], float(r)))
        if not pos:
            continue
        rng = _rng(seed, source, qid)
        judged_pos = list(pos)  # every judged positive, sampled or not: never a random top-up above its grade
        if len(pos) > positives_per_query:
            pos = rng.sample(pos, positives_per_query)
        ranks = [i for i, h in enumerate(hits) if judged.get(h.doc_id, 0) >= min_relevance]
        best = ranks[0] if ranks else -1
        skip = exclude.get(qid, set()) if exclude else set()
        # every excluded passage, in the hits or not (a random top-up must not draw it either)
        skipped = {t for d in skip if (t := _text_of(d, texts, corpus))}
        pos_texts = {t for t, _ in pos}
        below: list[tuple[str, float]] = []  # (text, grade) of every usable negative: 0 or unjudged below
        if negatives != "random":  # a text under two unjudged ids stays twice: the groups drawn so far
            for i, h in enumerate(hits):
                text, rel = texts[h.doc_id], judged.get(h.doc_id)
                if not text or h.doc_id in skip or text in skipped or text in pos_texts:
                    continue
                if text_grade.get(text, 0) > (rel or 0):  # judged relevant (higher) under another id
                    rel = text_grade[text]
                if rel == 0 or (rel is None and i > best):
                    below.append((text, 0.0))
                elif negatives == "graded" and rel is not None and rel > 0:
                    below.append((text, float(rel)))
        grade_of = dict(below)
        relevant = dict(judged_pos) if negatives == "graded" else {}  # a graded top-up keeps its grade
        for ptext, grade in pos:
            hard = [t for t, r in below if r < grade]
            # a random top-up is never a document the query judged relevant at or above this positive's grade
            # (with hard negatives: judged relevant at all), nor one `exclude` names
            keep_out = pos_texts | skipped
            keep_out |= {t for t, r in judged_pos if negatives != "graded" or r >= grade}
            negs = _fill(rng.sample(hard, min(n, len(hard))), n, random_pool, keep_out, rng)
            if len(negs) == n:
                spare = tuple(dict.fromkeys(t for t in hard if t not in negs))
                labels = (grade, *[grade_of.get(t, relevant.get(t, 0.0)) for t in negs])
                spare_labels = tuple(grade_of.get(t, 0.0) for t in spare)
                out.append(
                    Group(
                        qid,
                        queries[qid],
                        (ptext, *negs),
                        labels,
                        source,
                        spare=spare,
                        spare_labels=spare_labels if any(spare_labels) else (),
                    )
                )
    return out


def _text_of(doc_id: str, texts: Mapping[str, str], corpus: Mapping[str, Document] | None) -> str:
    """A document's text: from the query's hits, else the corpus ("" when neither has it)."""
    return texts.get(doc_id) or (corpus[doc_id].full_text if corpus and doc_id in corpus else "")


def triple_groups(
    triples: Sequence[tuple[str, str, str]], group_size: int, seed: int = 0, source: str = "triples"
) -> list[Group]:
    """MS MARCO (query, positive, negative) triples; groups larger than 3 add other triples' passages."""
    pool = sorted({t for _, p, ng in triples for t in (p, ng)})
    positives: dict[str, set[str]] = {}  # a query's positives over all its triples: never its negatives
    for q, p, _ in triples:
        positives.setdefault(q, set()).add(p)
    out = []
    for i, (q, p, ng) in enumerate(triples):
        rng = _rng(seed, source, str(i))
        first = [ng] if group_size > 1 and ng not in positives[q] else []
        negs = _fill(first, group_size - 1, pool, positives[q], rng)
        if len(negs) == group_size - 1:  # too few passages to draw from: no group, not a short one
            out.append(Group(text_id(q), q, (p, *negs), (1.0, *[0.0] * (group_size - 1)), source))
    return out


def bge_groups(
    rows: Sequence[tuple[str, list[str], list[str]]],
    group_size: int,
    negatives: str = "hard",
    seed: int = 0,
    source: str = "bge",
) -> list[Group]:
    """FlagEmbedding rows (query, positives, hard negatives): one group per positive, negatives sampled."""
    pool = sorted({t for _, ps, ns in rows for t in (*ps, *ns)})
    out = []
    for q, ps, ns in rows:
        rng = _rng(seed, source, q)
        ns = [t for t in dict.fromkeys(ns) if t not in ps]  # a positive listed among the negatives: not one
        for p in ps:
            hard = rng.sample(ns, min(group_size - 1, len(ns))) if negatives != "random" else []
            negs = _fill(hard, group_size - 1, pool, set(ps), rng)
            if len(negs) != group_size - 1:  # too few passages to draw from: no group, not a short one
                continue
            unused = (t for t in ns if t not in negs) if negatives != "random" else ()
            spare = tuple(dict.fromkeys(unused))
            out.append(
                Group(text_id(q), q, (p, *negs), (1.0, *[0.0] * (group_size - 1)), source, spare=spare)
            )
    return out


def split_pointwise(groups: Iterable[Group]) -> list[Group]:
    """Every document of every group as its own single-document example (pointwise training)."""
    return [
        Group(g.qid, g.query, (d,), (lab,), g.source)
        for g in groups
        for d, lab in zip(g.docs, g.labels, strict=True)
    ]


def mine_bm25(coll: Collection, depth: int = 100) -> tuple[Candidates, dict[str, set[str]]]:
    """BM25 candidates over the collection's corpus for its judged queries, and the documents never to use
    as negatives: unjudged hits that hold an answer string (NQ-open) and the collection's own `exclude`
    (LLM-flagged false negatives): likely relevant."""
    if not coll.corpus or coll.qrels is None:
        raise InputError(f"dataset '{coll.name}' has no corpus and judgements to mine negatives from")
    judged = {q: t for q, t in coll.queries.items() if q in coll.qrels}
    cands = bm25_retrieve(coll.corpus, judged, k=depth)
    exclude: dict[str, set[str]] = {}
    if coll.answers:
        tokens: dict[str, list[str]] = {}  # each passage normalised once, not once per query it is a hit for
        for qid, hits in cands.hits.items():
            answers = [a for a in (normalize_answer(x).split() for x in coll.answers.get(qid, [])) if a]
            exclude[qid] = set()
            for h in hits:
                if h.doc_id in coll.qrels[qid]:
                    continue
                toks = tokens.get(h.doc_id)
                if toks is None:
                    toks = tokens[h.doc_id] = normalize_answer(h.text or "").split()
                if any(_contains(toks, a) for a in answers):
                    exclude[qid].add(h.doc_id)
    for qid, docs in (coll.exclude or {}).items():  # e.g. LLM-flagged false negatives (RLHN)
        exclude.setdefault(qid, set()).update(docs)
    return cands, exclude


def _contains(tokens: list[str], sub: list[str]) -> bool:
    first, n = sub[0], len(sub)
    return any(tokens[i : i + n] == sub for i, t in enumerate(tokens[: len(tokens) - n + 1]) if t == first)


def split_by_query(ids: Iterable[str], dev_fraction: float, seed: int = 0) -> tuple[list[str], list[str]]:
    """(train ids, dev ids): a seeded shuffle of the distinct ids, the last `dev_fraction` held out."""
    unique = sorted(set(ids))
    if not 0 <= dev_fraction < 1:
        raise InputError(f"dev_fraction must be in [0, 1), got {dev_fraction}")
    random.Random(seed).shuffle(unique)
    n_dev = round(len(unique) * dev_fraction)
    if dev_fraction > 0 and len(unique) > 1:
        n_dev = max(1, n_dev)
    cut = len(unique) - n_dev
    return sorted(unique[:cut]), sorted(unique[cut:])


def groups_as_candidates(groups: Iterable[Group]) -> tuple[Candidates, Qrels]:
    """Held-out groups as a rerankable candidate list per query with their labels as qrels."""
    cands, qrels = Candidates(), {}
    for g in groups:
        hits = cands.hits.setdefault(g.key, [])
        cands.queries[g.key] = g.query
        seen = {h.doc_id for h in hits}
        for text, label in zip(g.docs, g.labels, strict=True):
            did = text_id(text)
            if did in seen:
                qrels[g.key][did] = max(qrels[g.key].get(did, 0), int(label))
                continue
            seen.add(did)
            hits.append(Hit(did, -float(len(hits)), text))
            qrels.setdefault(g.key, {})[did] = int(label)
    return cands, qrels
