"""A PyTerrier transformer over a rankscope reranker, as pyterrier_t5 does for monoT5:

    import pyterrier as pt
    from rankscope.pyterrier import RankscopeReranker

    reranker = RankscopeReranker.load("smollm2-135m", scorer="query-likelihood")   # or from_run(...)
    pipeline = bm25 >> pt.text.get_text(dataset, "text") >> reranker

It reranks a results frame (qid, query, docno, text): `score` becomes the reranker's score and `rank`
is recomputed. Needs the optional `pyterrier` package (its Java parts are not used).
"""

from __future__ import annotations

from typing import Any

try:
    import pandas as pd
    import pyterrier as pt
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "rankscope.pyterrier needs PyTerrier: pip install pyterrier pandas (in a checkout: "
        "pip install -e '.[pyterrier]')"
    ) from exc

from rankscope.errors import InputError
from rankscope.reranker import Reranker
from rankscope.scorers.base import Pair
from rankscope.scorers.decoder import PairwiseScorer

COLUMNS = ("qid", "query", "docno")


def rerank_frame(reranker: Reranker, frame: pd.DataFrame, text_field: str = "text") -> pd.DataFrame:
    """The frame with `score` from the reranker and `rank` recomputed per query (0 = best)."""
    missing = [c for c in (*COLUMNS, text_field) if c not in frame.columns]
    if missing:
        raise InputError(
            f"the results frame lacks column '{missing[0]}' (needs qid, query, docno, {text_field})"
        )
    out = frame.copy()
    if out.empty:
        return out.assign(score=pd.Series(dtype=float), rank=pd.Series(dtype=int))
    for column, what in ((text_field, text_field), ("query", "query text")):
        values = out[column]
        blank = values.isna() | (values.astype(str).str.strip() == "")
        if blank.any():
            row = out[blank].iloc[0]
            where = f"query {row['qid']!r}" + (f", document {row['docno']!r}" if column == text_field else "")
            raise InputError(f"the results frame has no {what} for {where} (missing or empty)")
    if isinstance(reranker.scorer, PairwiseScorer):
        scores = pd.Series(0.0, index=out.index)
        for _, group in out.groupby("qid", sort=False):
            scores.loc[group.index] = reranker.score(
                str(group["query"].iloc[0]), group[text_field].astype(str).tolist()
            )
        out["score"] = scores.astype(float)
    else:
        pairs = [Pair(str(q), str(t)) for q, t in zip(out["query"], out[text_field], strict=True)]
        out["score"] = reranker.scorer.score(pairs)
    return pt.model.add_ranks(out.drop(columns=["rank"], errors="ignore"))


class RankscopeReranker(pt.Transformer):
    """`bm25 >> RankscopeReranker(reranker)`: reranks each query's results with a rankscope Reranker."""

    def __init__(self, reranker: Reranker, text_field: str = "text") -> None:
        self.reranker = reranker
        self.text_field = text_field

    @classmethod
    def load(cls, model: str, scorer: str | None = None, **kwargs: Any) -> RankscopeReranker:
        return cls(Reranker.load(model, scorer, **kwargs))

    @classmethod
    def from_run(cls, run_dir: str, checkpoint: str | int | None = None, **kwargs: Any) -> RankscopeReranker:
        return cls(Reranker.from_run(run_dir, checkpoint, **kwargs))

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        return rerank_frame(self.reranker, inp, self.text_field)

    def __repr__(self) -> str:
        return f"RankscopeReranker({self.reranker!r})"
