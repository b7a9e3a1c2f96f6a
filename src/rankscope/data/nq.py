"""NQ-open questions with answers; relevance is answer-string match with DPR-style normalisation."""

from __future__ import annotations

import re
import string
import unicodedata
from pathlib import Path

from rankscope.data.readers import _field, _json, lines
from rankscope.data.types import Candidates, Collection, Document, Qrels
from rankscope.errors import InputError


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and the articles a/an/the, collapse whitespace (DPR, UPR)."""
    text = unicodedata.normalize("NFD", text).lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def has_answer(passage: str, answers: list[str]) -> bool:
    """True when some normalised answer occurs as a whole token sequence in the normalised passage."""
    tokens = normalize_answer(passage).split()
    for answer in answers:
        a = normalize_answer(answer).split()
        if a and any(tokens[i : i + len(a)] == a for i in range(len(tokens) - len(a) + 1)):
            return True
    return False


def answer_qrels(candidates: Candidates, answers: dict[str, list[str]]) -> Qrels:
    """1 for each candidate whose text holds an answer of its question, else 0."""
    return {
        qid: {h.doc_id: int(has_answer(h.text or "", answers.get(qid, []))) for h in hits}
        for qid, hits in candidates.hits.items()
    }


def read_nq_open(path: str | Path) -> Collection:
    """Questions, answers and each question's gold passage (judged relevant) from the oracle file."""
    queries: dict[str, str] = {}
    answers: dict[str, list[str]] = {}
    corpus: dict[str, Document] = {}
    qrels: Qrels = {}
    for n, line in lines(path):
        obj = _json(line, path, n)
        qid = f"nq{n}"
        question = str(_field(obj, "question", path, n)).strip()
        if not question:
            raise InputError("empty question", path, n)
        queries[qid] = question
        answers[qid] = [str(a) for a in _field(obj, "answers", path, n)]
        for i, ctx in enumerate(_field(obj, "ctxs", path, n)):
            if not ctx.get("isgold", True):
                continue
            did = f"{qid}-gold{i}"
            text = str(ctx.get("text") or "").strip()
            if not text:
                raise InputError(f"empty gold passage for '{question}'", path, n)
            corpus[did] = Document(did, text, str(ctx.get("title") or ""))
            qrels.setdefault(qid, {})[did] = 1
    return Collection("nq-open", queries, qrels, corpus, answers=answers)
