"""Fuse a reranker's run with its first stage: per-query score interpolation or reciprocal rank fusion, and
the interpolation weight chosen on a dev set (with the whole weight -> metric table, to record)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from rankscope.data.readers import trec_order
from rankscope.errors import InputError
from rankscope.evaluate.compare import QrelsLike, RunLike, judged_run, load_qrels, load_run
from rankscope.evaluate.metrics import Run, evaluate, parse_measures

Method = Literal["interpolate", "rrf"]
Norm = Literal["minmax", "zscore"]
GRID: tuple[float, ...] = tuple(round(i * 0.1, 1) for i in range(11))


def normalise(scores: Mapping[str, float], norm: Norm = "minmax") -> dict[str, float]:
    """One query's scores to [0, 1] (minmax) or to mean 0, sd 1 (zscore); all 0 when they are constant.
    An infinite score (a log-probability of -inf) first becomes a finite one beyond every finite score of
    the query, so it keeps its rank and the result stays finite."""
    if not scores:
        return {}
    v = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
    if not np.isfinite(v).all():
        finite = v[np.isfinite(v)]
        lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
        step = max(hi - lo, 1.0)
        v = np.where(v == np.inf, hi + step, np.where(v == -np.inf, lo - step, v))
    if norm == "minmax":
        lo, span = v.min(), v.max() - v.min()
        out = (v - lo) / span if span > 0 else np.zeros_like(v)
    elif norm == "zscore":
        sd = v.std()
        out = (v - v.mean()) / sd if sd > 0 else np.zeros_like(v)
    else:
        check_settings(None, norm)
    return dict(zip(scores, out.tolist(), strict=True))


def ranks(scores: Mapping[str, float]) -> dict[str, int]:
    """1-based ranks by score descending, ties by doc id descending (as trec_eval orders them)."""
    return {d: i for i, (d, _) in enumerate(trec_order(scores), 1)}


def check_settings(
    method: str | None, norm: str | None, method_option: str = "--fuse", norm_option: str = "norm"
) -> None:
    """Refuse an unknown fusion method or normalisation (None: not given), and a normalisation given with
    rrf (it reads ranks: the normalisation would be ignored unsaid), naming the option."""
    if method is not None and method not in ("interpolate", "rrf"):
        raise InputError(f"unknown fusion method '{method}': expected interpolate or rrf", method_option)
    if norm is not None and norm not in ("minmax", "zscore"):
        raise InputError(f"unknown normalisation '{norm}': expected minmax or zscore", norm_option)
    if method == "rrf" and norm is not None:
        raise InputError(
            f"rrf fuses ranks, so no normalisation applies: drop {norm_option} {norm}", norm_option
        )


def _check(weight: float, method: str) -> None:
    if not 0.0 <= weight <= 1.0:
        raise InputError(f"fusion weight must be in [0, 1], got {weight}", "weight")
    check_settings(method, None)


def fuse(
    reranker_run: RunLike,
    first_stage_run: RunLike,
    weight: float,
    method: Method = "interpolate",
    norm: Norm = "minmax",
    k: int = 60,
) -> Run:
    """Per query, over the union of both runs' documents:

    - interpolate: `weight * norm(reranker) + (1 - weight) * norm(first stage)`, scores normalised per
      query; a document missing from one side gets that side's minimum normalised score.
    - rrf: `weight / (k + rank_reranker) + (1 - weight) / (k + rank_first_stage)`, a side that lacks the
      document adding 0; weight 0.5 ranks as plain reciprocal rank fusion (Cormack et al., 2009).

    weight 1 is the reranker alone, 0 the first stage alone: the documents the side that counts lacks
    (the first stage's below the reranked depth, at weight 1) follow its documents in the other side's
    order, not tied at one score (which would order them by doc id). A query in one run only keeps that
    run's order."""
    _check(weight, method)
    if k < 0:
        raise InputError(f"the RRF constant k must be at least 0, got {k}", "k")
    rr, fs = load_run(reranker_run), load_run(first_stage_run)
    fused: Run = {}
    for q in list(rr) + [q for q in fs if q not in rr]:
        a, b = rr.get(q, {}), fs.get(q, {})
        if not a or not b:  # one run only: its own scores (at weight 0 or 1 they would all be 0)
            fused[q] = dict(a or b)
            continue
        docs = list(a) + [d for d in b if d not in a]
        if method == "rrf":
            ra, rb = ranks(a), ranks(b)
            fused[q] = {
                d: (weight / (k + ra[d]) if d in ra else 0.0)
                + ((1 - weight) / (k + rb[d]) if d in rb else 0.0)
                for d in docs
            }
        else:
            na, nb = normalise(a, norm), normalise(b, norm)
            fa, fb = min(na.values(), default=0.0), min(nb.values(), default=0.0)
            fused[q] = {d: weight * na.get(d, fa) + (1 - weight) * nb.get(d, fb) for d in docs}
        if weight in (0.0, 1.0):
            fused[q] = _other_side_after(fused[q], *((a, b) if weight == 1.0 else (b, a)), q)
    return fused


def _other_side_after(
    scores: dict[str, float], side: Mapping[str, float], other: Mapping[str, float], qid: str
) -> dict[str, float]:
    """At weight 1 (or 0) only `side` counts: the documents it lacks all got one score. They go below its
    documents in `other`'s order."""
    low = min((scores[d] for d in side), default=0.0)
    rest = [d for d, _ in trec_order(other, qid) if d not in side]
    return {**{d: scores[d] for d in side}, **{d: low - i for i, d in enumerate(rest, 1)}}


@dataclass(frozen=True)
class WeightPoint:
    weight: float
    value: float


@dataclass
class WeightChoice:
    """The chosen weight, its dev value and the whole table it was chosen from."""

    weight: float
    value: float
    measure: str
    method: Method
    norm: Norm
    table: list[WeightPoint]
    first_stage_depth: int | None = None
    """the cut of the first stage it was chosen on (`--depth`: each query's top N; None: whole lists)."""
    first_stage_longest: int | None = None
    """the most first-stage documents a dev query had after that cut."""

    def to_json(self) -> dict[str, Any]:
        return {
            "weight": self.weight,
            "value": self.value,
            "measure": self.measure,
            "method": self.method,
            "norm": self.norm,
            "first_stage_depth": self.first_stage_depth,
            "first_stage_longest": self.first_stage_longest,
            "table": [{"weight": p.weight, "value": p.value} for p in self.table],
        }


def top_of(run: Run, depth: int | None) -> Run:
    """Each query's top `depth` documents (every one with None): the first stage `rerank --depth` fuses.
    Ties at the cut keep the run's own order (a candidates file's, as `rerank` cuts its hits)."""
    if depth is None:
        return run
    if depth < 1:
        raise InputError(f"the depth must be at least 1, got {depth}", "--depth")
    return {q: dict(sorted(docs.items(), key=lambda kv: -kv[1])[:depth]) for q, docs in run.items()}


def depth_note(choice: Mapping[str, object], depth: int | None) -> str | None:
    """A note when a weight from `rankscope fuse` (its fusion.json) is applied to another cut of the first
    stage than it was chosen on: the normalised scores, and so the best weight, depend on it."""
    cut, longest = choice.get("first_stage_depth"), choice.get("first_stage_longest")
    if isinstance(cut, int) and cut != depth:
        here = f"the top {depth}" if depth is not None else "whole lists"
        return (
            f"the weight was chosen fusing each dev query's top {cut} first-stage documents, and this "
            f"fusion reads {here}: the normalised scores differ"
        )
    if cut is None and isinstance(longest, int) and depth is not None and longest > depth:
        return (
            f"the weight was chosen fusing whole first-stage lists (up to {longest} documents a query), and "
            f"this fusion reads the top {depth}: choose it with `rankscope fuse --depth {depth}` to match"
        )
    return None


def run_depth(run: Run) -> int:
    """The most documents any query of `run` has."""
    return max((len(docs) for docs in run.values()), default=0)


def choose_weight(
    reranker_run: RunLike,
    first_stage_run: RunLike,
    qrels: QrelsLike,
    measure: str = "nDCG@10",
    grid: Sequence[float] = GRID,
    method: Method = "interpolate",
    norm: Norm = "minmax",
    k: int = 60,
    depth: int | None = None,
) -> WeightChoice:
    """Evaluate `fuse` at every weight of `grid` (default 0, 0.1, ..., 1) on a dev set and pick the best
    by `measure`; among equal values the larger weight (more reranker) wins. `depth` fuses each query's top
    `depth` first-stage documents only, as `rerank --fuse --depth` does (the normalisation, and so the
    weight, depends on how many there are); the choice records the depth read."""
    if not grid:
        raise InputError("the weight grid is empty", "--fuse-grid")
    for w in grid:
        _check(w, method)
    judged = load_qrels(qrels)
    name = str(parse_measures([measure])[0])
    rr, fs = judged_run(reranker_run, judged), top_of(judged_run(first_stage_run, judged), depth)
    table = [
        WeightPoint(float(w), evaluate(fuse(rr, fs, w, method, norm, k), judged, [name])[name]) for w in grid
    ]
    best = max(table, key=lambda p: (p.value, p.weight))
    return WeightChoice(best.weight, best.value, name, method, norm, table, depth, run_depth(fs))
