"""Fusion: interpolation of per-query normalised scores (missing docs at that side's minimum), reciprocal
rank fusion, the dev-set weight choice, and BM25 + SPLADE++ on TREC DL 2019."""

from __future__ import annotations

import pytest

from rankscope.data.readers import trec_order
from rankscope.data.registry import data_root
from rankscope.errors import InputError
from rankscope.evaluate.compare import load_run
from rankscope.evaluate.fusion import GRID, choose_weight, fuse, normalise, ranks
from rankscope.evaluate.metrics import evaluate

DL19 = data_root() / "trec-dl-2019-passage"  # ../shared/data beside the checkout, or $RANKSCOPE_DATA
RER = {"q": {"a": 10.0, "b": 0.0, "c": 5.0}}
FS = {"q": {"a": 1.0, "b": 3.0, "d": 2.0}, "q2": {"x": 1.0}}


def test_normalise() -> None:
    assert normalise({"a": 2.0, "b": 4.0, "c": 3.0}) == {"a": 0.0, "b": 1.0, "c": 0.5}
    z = normalise({"a": 1.0, "b": 3.0}, "zscore")
    assert z == pytest.approx({"a": -1.0, "b": 1.0})
    assert normalise({"a": 7.0, "b": 7.0}) == {"a": 0.0, "b": 0.0}
    assert normalise({"a": 7.0}, "zscore") == {"a": 0.0}
    # an infinite score keeps its rank and the result stays finite (it wrote nan before)
    inf = normalise({"a": float("-inf"), "b": 1.0, "c": 3.0, "d": float("inf")})
    assert inf == pytest.approx({"a": 0.0, "b": 1 / 3, "c": 2 / 3, "d": 1.0})  # -inf at -1, inf at 5
    assert normalise({"a": float("-inf"), "b": float("-inf")}) == {"a": 0.0, "b": 0.0}


def test_interpolate_by_hand_missing_docs_get_the_side_minimum() -> None:
    out = fuse(RER, FS, 0.5)
    # reranker minmax: a 1, b 0, c 0.5, d missing -> 0; first stage: a 0, b 1, d 0.5, c missing -> 0
    assert out["q"] == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.25, "d": 0.25})
    assert out["q2"] == {"x": 1.0}  # only in one run: that run's scores
    z = fuse(RER, FS, 0.5, norm="zscore")
    rz, fz = normalise(RER["q"], "zscore"), normalise(FS["q"], "zscore")
    assert z["q"]["c"] == pytest.approx(0.5 * rz["c"] + 0.5 * min(fz.values()))


def test_weight_one_and_zero_keep_each_sides_order() -> None:
    one, zero = fuse(RER, FS, 1.0), fuse(RER, FS, 0.0)
    assert sorted(RER["q"], key=lambda d: -one["q"][d]) == ["a", "c", "b"]
    assert sorted(FS["q"], key=lambda d: -zero["q"][d]) == ["b", "d", "a"]


def test_a_query_of_one_run_keeps_its_order_at_every_weight() -> None:
    one_sided = {"q3": {"a": 3.0, "c": 2.0, "b": 1.0}}
    for method in ("interpolate", "rrf"):
        for w in (0.0, 0.5, 1.0):
            for out in (fuse(one_sided, FS, w, method=method), fuse(FS, one_sided, w, method=method)):
                assert [d for d, _ in trec_order(out["q3"])] == ["a", "c", "b"]  # c, b, a at w 0 and 1


def test_rrf_by_hand() -> None:
    assert ranks({"a": 1.0, "b": 2.0, "c": 2.0}) == {"c": 1, "b": 2, "a": 3}  # ties: doc id descending
    out = fuse(RER, FS, 0.5, method="rrf", k=60)
    assert out["q"]["a"] == pytest.approx(0.5 / 61 + 0.5 / 63)
    assert out["q"]["c"] == pytest.approx(0.5 / 62)  # missing from the first stage: adds 0
    assert out["q"]["d"] == pytest.approx(0.5 / 62)


def test_refusals() -> None:
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        fuse(RER, FS, 1.5)
    with pytest.raises(InputError, match="method"):
        fuse(RER, FS, 0.5, method="max")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="normalisation"):
        fuse(RER, FS, 0.5, norm="rank")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="empty"):
        choose_weight(RER, FS, {"q": {"a": 1}}, grid=[])
    with pytest.raises(InputError, match="k must be at least 0"):
        fuse(RER, FS, 0.5, method="rrf", k=-1)  # ZeroDivisionError before


def test_choose_weight_table_and_ties_to_the_larger_weight() -> None:
    qrels = {"q": {"b": 1}}
    assert [p.weight for p in choose_weight(RER, FS, qrels).table] == list(GRID) and GRID[3] == 0.3
    ch = choose_weight(RER, FS, qrels, "RR@10", grid=[0.0, 0.2, 0.4, 0.6, 1.0])
    # b (fused 1 - w) beats a (w) below 0.5; at 1 the reranker alone ranks a, c, b, and d, which it did
    # not score, follows (it tied with b at 0 before and ranked above it by doc id: b 4th, RR 0.25)
    assert [p.value for p in ch.table] == pytest.approx([1.0, 1.0, 1.0, 0.5, 1 / 3])
    assert ch.weight == 0.4 and ch.value == 1.0
    assert ch.to_json()["table"][0] == {"weight": 0.0, "value": 1.0}
    assert ch.measure == "RR@10"


@pytest.mark.skipif(not (DL19 / "qrels.txt").is_file(), reason="TREC DL 2019 files not present")
def test_dl19_interpolating_bm25_and_splade() -> None:
    qrels = DL19 / "qrels.txt"
    splade, bm25 = load_run(DL19 / "splade_pp_ed_top100.jsonl.gz"), load_run(DL19 / "bm25_top100.jsonl.gz")
    from rankscope.evaluate.compare import load_qrels

    judged = load_qrels(qrels)
    assert round(evaluate(fuse(splade, bm25, 1.0), judged, ["nDCG@10"])["nDCG@10"], 4) == 0.7308
    assert round(evaluate(fuse(splade, bm25, 0.0), judged, ["nDCG@10"])["nDCG@10"], 4) == 0.5058
    ch = choose_weight(splade, bm25, judged, grid=[0.0, 0.5, 0.7, 1.0])
    values = {p.weight: p.value for p in ch.table}
    assert ch.weight == 0.7 and round(ch.value, 4) == 0.7420  # fusion beats SPLADE++ alone
    assert values[0.5] < values[1.0]  # too much BM25 hurts
    rrf = evaluate(fuse(splade, bm25, 0.5, method="rrf"), judged, ["nDCG@10"])["nDCG@10"]
    assert 0.5058 < rrf < 0.7308


def test_at_weight_one_or_zero_the_other_sides_documents_follow_in_its_order() -> None:
    """At weight 1 the first stage's documents below the reranked depth all got one score and came out by
    doc id descending (d48, d47, ...): R@k below the depth read the first stage's order scrambled."""
    first = {"q": {f"d{i:02d}": 100.0 - i for i in range(50)}}  # d00 best
    reranked = {"q": {f"d{i:02d}": float(i) for i in range(10)}}  # the top 10, reversed
    for method in ("interpolate", "rrf"):
        order = [d for d, _ in trec_order(fuse(reranked, first, 1.0, method=method)["q"])]  # type: ignore[arg-type]
        assert order == [f"d{i:02d}" for i in [*range(9, -1, -1), *range(10, 50)]]
        order = [d for d, _ in trec_order(fuse(first, reranked, 0.0, method=method)["q"])]  # type: ignore[arg-type]
        assert order[:10] == [f"d{i:02d}" for i in range(9, -1, -1)] and order[10:12] == ["d10", "d11"]


def test_a_cut_of_the_first_stage_keeps_its_ties_in_the_runs_order_and_is_recorded() -> None:
    """`fuse --depth` cuts as `rerank --depth` cuts a candidates file (ties in the file's order; trec_order
    took d4 over d2 at a tie), and fusion.json records the cut it chose on, which another cut is told of."""
    from rankscope.evaluate.fusion import depth_note, top_of

    first = {"q": {"d1": 9.0, "d2": 5.0, "d3": 5.0, "d4": 5.0}}
    assert list(top_of(first, 2)["q"]) == ["d1", "d2"] and top_of(first, None) is first
    with pytest.raises(InputError, match="at least 1"):
        top_of(first, 0)
    choice = choose_weight({"q": {"d1": 1.0, "d2": 2.0}}, first, {"q": {"d2": 1}}, depth=2).to_json()
    assert choice["first_stage_depth"] == 2 and choice["first_stage_longest"] == 2
    assert depth_note(choice, 2) is None
    assert "top 2 first-stage documents, and this fusion reads the top 3" in str(depth_note(choice, 3))
    whole = choose_weight({"q": {"d1": 1.0}}, first, {"q": {"d2": 1}}).to_json()
    assert whole["first_stage_depth"] is None and whole["first_stage_longest"] == 4
    assert depth_note(whole, 4) is None and depth_note(whole, 100) is None  # every list read whole
    assert "`rankscope fuse --depth 3`" in str(depth_note(whole, 3))
    assert depth_note({"weight": 0.5}, 3) is None  # a fusion.json of before these fields: nothing to say
