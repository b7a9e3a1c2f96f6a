"""RLHN training samples: MS MARCO train queries with mined hard negatives, some of which an LLM judge
flagged as likely false negatives (castorini/rlhn, stage 1).

Each line is ``{"query_id", "query", "pos": [...], "neg": [...], "llm_flagged_neg": [indices into neg]}``.
The passages carry no ids: each gets `text_id` of its text, so the same passage has the same id wherever
it appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rankscope.data._io import iter_json, json_id, json_text, require_records
from rankscope.data.types import Collection, Document, Qrels, text_id
from rankscope.errors import InputError


@dataclass(frozen=True)
class RlhnQuery:
    """One RLHN query: positives, hard negatives, and the negatives flagged as likely relevant."""

    qid: str
    query: str
    positives: tuple[Document, ...]
    negatives: tuple[Document, ...]
    flagged: frozenset[str]
    """ids of the negatives the LLM judge called relevant (likely false negatives)."""

    @property
    def clean_negatives(self) -> tuple[Document, ...]:
        """The negatives that were not flagged."""
        return tuple(d for d in self.negatives if d.doc_id not in self.flagged)

    def as_bge(self, drop_flagged: bool = True) -> tuple[str, list[str], list[str]]:
        """(query, positive texts, negative texts) as `read_bge_jsonl` gives them; flagged negatives left
        out unless `drop_flagged` is False."""
        negs = self.clean_negatives if drop_flagged else self.negatives
        return self.query, [d.text for d in self.positives], [d.text for d in negs]


def _passages(obj: dict, key: str, path: str | Path, lineno: int) -> tuple[Document, ...]:
    value = obj.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"field {key!r} must be a list of strings", path, lineno)
    if any(not v.strip() for v in value):
        raise InputError(f"empty passage text in {key!r}", path, lineno)
    return tuple(Document(text_id(v.strip()), v.strip()) for v in value)


def read_rlhn(path: str | Path) -> list[RlhnQuery]:
    """Read an RLHN jsonl file; the flags become the ids of the flagged negatives."""
    out: list[RlhnQuery] = []
    seen: set[str] = set()
    for lineno, obj in iter_json(path):
        qid = json_id(obj, "query_id", path, lineno)
        if qid in seen:
            raise InputError(f"duplicate query id {qid!r}", path, lineno)
        seen.add(qid)
        query = str(json_text(obj, "query", path, lineno, what=f"query text for query {qid!r}")).strip()
        pos = _passages(obj, "pos", path, lineno)
        if not pos:
            raise InputError(f"no positive passage for query {qid!r}", path, lineno)
        neg = _passages(obj, "neg", path, lineno)
        flags = obj.get("llm_flagged_neg", [])
        if not isinstance(flags, list) or not all(type(i) is int for i in flags):
            raise InputError("field 'llm_flagged_neg' must be a list of integers", path, lineno)
        bad = [i for i in flags if not 0 <= i < len(neg)]
        if bad:
            raise InputError(
                f"llm_flagged_neg index {bad[0]} is out of range for {len(neg)} negatives", path, lineno
            )
        out.append(RlhnQuery(qid, query, pos, neg, frozenset(neg[i].doc_id for i in flags)))
    return require_records(out, path, "queries")


def rlhn_collection(name: str, path: str | Path) -> Collection:
    """RLHN samples as a judged collection: positives 1, unflagged negatives 0, flagged negatives left
    unjudged and listed in `Collection.exclude` so that they are never used as negatives."""
    queries: dict[str, str] = {}
    corpus: dict[str, Document] = {}
    qrels: Qrels = {}
    exclude: dict[str, set[str]] = {}
    for rec in read_rlhn(path):
        queries[rec.qid] = rec.query
        judged: dict[str, int] = {}
        for d in rec.negatives:
            corpus[d.doc_id] = d
            if d.doc_id not in rec.flagged:
                judged[d.doc_id] = 0
        for d in rec.positives:
            corpus[d.doc_id] = d
            judged[d.doc_id] = 1
        qrels[rec.qid] = judged
        exclude[rec.qid] = set(rec.flagged)
    return Collection(name, queries, qrels, corpus, exclude=exclude)
