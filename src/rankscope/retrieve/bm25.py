"""BM25 first stage with bm25s (Anserini-like defaults k1=0.9, b=0.4)."""

from __future__ import annotations

import bm25s

from rankscope.data.types import Candidates, Document, Hit


def bm25_retrieve(
    corpus: dict[str, Document],
    queries: dict[str, str],
    k: int = 100,
    k1: float = 0.9,
    b: float = 0.4,
    stopwords: str | None = "en",
) -> Candidates:
    """Top-k candidates with text for every query."""
    ids = list(corpus)
    texts = [corpus[d].full_text for d in ids]
    retriever = bm25s.BM25(k1=k1, b=b)
    retriever.index(bm25s.tokenize(texts, stopwords=stopwords, show_progress=False), show_progress=False)
    qids = list(queries)
    q_tokens = bm25s.tokenize([queries[q] for q in qids], stopwords=stopwords, show_progress=False)
    docs, scores = retriever.retrieve(q_tokens, k=min(k, len(ids)), show_progress=False)
    out = Candidates(queries=dict(queries))
    for row, qid in enumerate(qids):
        out.hits[qid] = [
            Hit(ids[int(i)], float(s), texts[int(i)])
            for i, s in zip(docs[row], scores[row], strict=True)
            if s > 0
        ]
    return out
