"""Plain typed containers for queries, documents, judgements and candidate lists."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from rankscope.errors import InputError

Qrels = dict[str, dict[str, int]]
"""query id -> document id -> graded relevance."""


def text_id(text: str) -> str:
    """A stable id for a query or passage that has none (file sources)."""
    return "t" + hashlib.sha1(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Document:
    doc_id: str
    text: str
    title: str = ""

    @property
    def full_text(self) -> str:
        return f"{self.title}. {self.text}" if self.title else self.text


@dataclass(frozen=True)
class Hit:
    """One candidate for a query: a document with its first-stage score and, when known, its text."""

    doc_id: str
    score: float
    text: str | None = None


@dataclass
class Candidates:
    """Per-query ranked candidate lists (best first), with the query text where the source holds it."""

    hits: dict[str, list[Hit]] = field(default_factory=dict)
    queries: dict[str, str] = field(default_factory=dict)

    def truncate(self, depth: int) -> Candidates:
        """Each list cut to its first `depth` hits (at least 1)."""
        if depth < 1:
            raise InputError(f"the depth must be at least 1, got {depth}", "depth")
        return Candidates({q: h[:depth] for q, h in self.hits.items()}, dict(self.queries))

    def subset(self, query_ids: Iterable[str]) -> Candidates:
        """Only the given queries (in that order; one id may be given alone); an id the candidates lack
        is skipped."""
        ids = [query_ids] if isinstance(query_ids, str) else query_ids
        keep = [q for q in ids if q in self.hits]
        return Candidates(
            {q: self.hits[q] for q in keep}, {q: self.queries[q] for q in keep if q in self.queries}
        )

    def as_run(self) -> dict[str, dict[str, float]]:
        """The first-stage scores as a run {query id: {doc id: score}}."""
        return {q: {h.doc_id: h.score for h in hits} for q, hits in self.hits.items()}


@dataclass
class Collection:
    """Everything a named dataset split holds; any part may be missing."""

    name: str
    queries: dict[str, str]
    qrels: Qrels | None = None
    corpus: dict[str, Document] | None = None
    candidates: dict[str, str] = field(default_factory=dict)
    """candidate set name (e.g. "bm25") -> path of a candidates jsonl(.gz) file."""
    answers: dict[str, list[str]] | None = None
    """query id -> answer strings, for answer-match relevance (NQ-open)."""
    exclude: dict[str, set[str]] | None = None
    """query id -> documents never to use as its negatives (likely false negatives, e.g. LLM-flagged)."""
