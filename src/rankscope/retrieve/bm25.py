"""BM25 first stage with bm25s (Anserini-like defaults k1=0.9, b=0.4)."""

from __future__ import annotations

import bm25s

from rankscope.data.readers import trec_order
from rankscope.data.types import Candidates, Document, Hit

TIE_MARGIN = 16
"""hits fetched past k at first, to see whether the k-th score is tied with the ones below it."""


def bm25_retrieve(
    corpus: dict[str, Document],
    queries: dict[str, str],
    k: int = 100,
    k1: float = 0.9,
    b: float = 0.4,
    stopwords: str | None = "en",
) -> Candidates:
    """Top-k candidates with text for every query. Documents tied at the k-th score are chosen as run
    files order ties (doc id descending), whatever the corpus order."""
    ids = list(corpus)
    texts = [corpus[d].full_text for d in ids]
    retriever = bm25s.BM25(k1=k1, b=b)
    retriever.index(bm25s.tokenize(texts, stopwords=stopwords, show_progress=False), show_progress=False)
    qids = list(queries)
    q_tokens = bm25s.tokenize([queries[q] for q in qids], stopwords=stopwords, show_progress=False)
    k = min(k, len(ids))
    top: dict[str, dict[str, float]] = {}
    todo, fetch = list(range(len(qids))), min(k + TIE_MARGIN, len(ids))
    while todo:  # fetch past the k-th score until it is no longer tied with the last one fetched
        batch = bm25s.tokenization.Tokenized(ids=[q_tokens.ids[i] for i in todo], vocab=q_tokens.vocab)
        docs, scores = retriever.retrieve(batch, k=fetch, show_progress=False)
        tied = []
        for row, i in enumerate(todo):
            if fetch < len(ids) and scores[row][k - 1] > 0 and scores[row][k - 1] == scores[row][fetch - 1]:
                tied.append(i)
            else:
                top[qids[i]] = {ids[int(d)]: float(s) for d, s in zip(docs[row], scores[row], strict=True)}
        todo, fetch = tied, min(fetch * 2, len(ids))
    out = Candidates(queries=dict(queries))
    index = {d: n for n, d in enumerate(ids)}
    for qid in qids:
        out.hits[qid] = [Hit(d, s, texts[index[d]]) for d, s in trec_order(top[qid])[:k] if s > 0]
    return out
