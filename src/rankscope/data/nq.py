"""Question-answering data: NQ-open with gold passages, answer-match relevance, and FlagEmbedding
(BGE) training files with positives and mined hard negatives."""

from __future__ import annotations

import string
import unicodedata
from pathlib import Path

from rankscope.data._io import iter_json, json_text, require_records
from rankscope.data.types import Candidates, Document, Qrels
from rankscope.errors import InputError

_ARTICLES = frozenset({"a", "an", "the"})
_ASCII_PUNCT = frozenset(string.punctuation)


def normalize_answer(s: str) -> str:
    """DPR-style normalisation: Unicode NFD, lower case, punctuation to spaces, articles a/an/the
    removed, whitespace collapsed. Punctuation becomes a space (not nothing) so that "1956–1972" and
    "twice—in" still split into words."""
    s = unicodedata.normalize("NFD", s).lower()
    s = "".join(" " if ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P") else ch for ch in s)
    return " ".join(tok for tok in s.split() if tok not in _ARTICLES)


def has_answer(text: str, answers: list[str]) -> bool:
    """True when the normalised token sequence of some answer occurs in the normalised text."""
    tokens = normalize_answer(text).split()
    for answer in answers:
        a = normalize_answer(answer).split()
        n = len(a)
        if n and any(tokens[i : i + n] == a for i in range(len(tokens) - n + 1)):
            return True
    return False


def answer_qrels(candidates: Candidates, answers: dict[str, list[str]]) -> Qrels:
    """Answer-match judgements: 1 for a hit whose text holds an answer of its question, else 0.

    Queries without answers get no judgements. A hit without text cannot be judged: ValueError."""
    qrels: Qrels = {}
    for qid, hits in candidates.hits.items():
        if not answers.get(qid):
            continue
        judged: dict[str, int] = {}
        for hit in hits:
            if hit.text is None:
                raise ValueError(f"hit {hit.doc_id!r} of query {qid!r} has no text to match answers against")
            judged[hit.doc_id] = int(has_answer(hit.text, answers[qid]))
        qrels[qid] = judged
    return qrels


def _str_list(obj: dict, key: str, path: str | Path, lineno: int, *, allow_empty: bool) -> list[str]:
    value = obj.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"field {key!r} must be a list of strings", path, lineno)
    if not value and not allow_empty:
        raise InputError(f"field {key!r} is empty", path, lineno)
    if any(not v.strip() for v in value):
        what = "answer" if key == "answers" else f"passage text in {key!r}"
        raise InputError(f"empty {what}", path, lineno)
    return value


def read_nq_open(
    path: str | Path,
) -> tuple[dict[str, str], dict[str, list[str]], dict[str, Document], Qrels]:
    """Read the lost-in-the-middle NQ-open oracle file: (queries, answers, gold-passage corpus, qrels).

    Each line is ``{"question", "answers": [...], "ctxs": [{"title", "text", "isgold", ...}], ...}``.
    The file has no ids: a question's id is its 1-based line number. Gold passages (``isgold`` true)
    are deduplicated by (title, text), since several questions share one, and numbered ``p1``, ``p2``,
    ... in order of first appearance; qrels mark each question's gold passages relevant (1)."""
    queries: dict[str, str] = {}
    answers: dict[str, list[str]] = {}
    corpus: dict[str, Document] = {}
    qrels: Qrels = {}
    ids: dict[tuple[str, str], str] = {}
    for lineno, obj in iter_json(path):
        qid = str(lineno)
        question = json_text(obj, "question", path, lineno, what="query text")
        answers[qid] = _str_list(obj, "answers", path, lineno, allow_empty=False)
        ctxs = obj.get("ctxs")
        if not isinstance(ctxs, list) or not all(isinstance(c, dict) for c in ctxs):
            raise InputError("field 'ctxs' must be a list of objects", path, lineno)
        gold = [c for c in ctxs if c.get("isgold")]
        if not gold:
            raise InputError("no gold passage (no ctx with isgold true)", path, lineno)
        judged: dict[str, int] = {}
        for ctx in gold:
            text = json_text(ctx, "text", path, lineno, what="passage text")
            title = json_text(ctx, "title", path, lineno, what="title", required=False) or ""
            key = (title.strip(), str(text).strip())
            if key not in ids:
                ids[key] = f"p{len(ids) + 1}"
                corpus[ids[key]] = Document(ids[key], key[1], key[0])
            judged[ids[key]] = 1
        queries[qid] = str(question).strip()
        qrels[qid] = judged
    require_records(queries, path, "questions")
    return queries, answers, corpus, qrels


def read_bge_jsonl(path: str | Path) -> list[tuple[str, list[str], list[str]]]:
    """Read a FlagEmbedding training file, ``{"query", "pos": [...], "neg": [...], ...}`` per line, as
    (query, positive passages, negative passages). Teacher scores and prompts are ignored."""
    out: list[tuple[str, list[str], list[str]]] = []
    for lineno, obj in iter_json(path):
        query = json_text(obj, "query", path, lineno, what="query text")
        pos = _str_list(obj, "pos", path, lineno, allow_empty=False)
        neg = _str_list(obj, "neg", path, lineno, allow_empty=True) if "neg" in obj else []
        out.append((str(query).strip(), pos, neg))
    return require_records(out, path, "training rows")
