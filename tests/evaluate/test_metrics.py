from __future__ import annotations

import math

import pytest

from rankscope.errors import InputError
from rankscope.evaluate.metrics import default_measures, evaluate, per_query

QRELS = {"q1": {"a": 2, "b": 0, "c": 1}, "q2": {"d": 3}}


def test_missing_query_scores_zero() -> None:
    run = {"q1": {"a": 3.0, "b": 2.0, "c": 1.0}}
    m = evaluate(run, QRELS, ["nDCG@10", "RR@10"])
    assert m["RR@10"] == pytest.approx(0.5)  # q1 = 1, q2 missing = 0
    assert per_query(run, QRELS, ["RR@10"])["RR@10"]["q2"] == 0.0


def test_ndcg_linear_gain_like_trec_eval() -> None:
    run = {"q1": {"b": 3.0, "a": 2.0, "c": 1.0}, "q2": {"d": 1.0}}
    dcg = 2 / math.log2(3) + 1 / math.log2(4)
    idcg = 2 + 1 / math.log2(3)
    assert evaluate(run, QRELS, ["nDCG@10"])["nDCG@10"] == pytest.approx((dcg / idcg + 1) / 2)


def test_graded_defaults_use_rel2() -> None:
    assert default_measures(QRELS) == ["nDCG@10", "RR(rel=2)@10", "R(rel=2)@100"]  # as TREC DL: -l 2
    assert default_measures({"q": {"a": 1}}) == ["nDCG@10", "RR@10", "R@100"]


def test_unknown_measure_refused() -> None:
    with pytest.raises(InputError, match="--measures"):
        evaluate({}, QRELS, ["nDCG@ten"])


def test_dl19_bm25_reproduces_published_figure_and_trec_eval() -> None:
    """BM25 top-100 on TREC DL 2019: the published 0.5058 nDCG@10, and trec_eval's (pytrec_eval) numbers."""
    import pytrec_eval

    from rankscope.data.readers import read_candidates
    from rankscope.data.registry import load_dataset

    coll = load_dataset("dl19")
    cands = read_candidates(coll.candidates["bm25"])
    run = {q: {h.doc_id: h.score for h in hits} for q, hits in cands.hits.items()}
    ours = evaluate(run, coll.qrels, ["nDCG@10", "R@100"])
    assert round(ours["nDCG@10"], 4) == 0.5058
    te = pytrec_eval.RelevanceEvaluator(coll.qrels, {"ndcg_cut.10", "recall.100"})
    per_q = te.evaluate(run)
    assert ours["nDCG@10"] == pytest.approx(sum(v["ndcg_cut_10"] for v in per_q.values()) / len(coll.qrels))
    assert ours["R@100"] == pytest.approx(sum(v["recall_100"] for v in per_q.values()) / len(coll.qrels))
    # the default recall on graded qrels is TREC DL's: trec_eval -l 2
    assert "R(rel=2)@100" in default_measures(coll.qrels)
    strict = evaluate(run, coll.qrels, ["R(rel=2)@100"])["R(rel=2)@100"]
    te2 = pytrec_eval.RelevanceEvaluator(coll.qrels, {"recall.100"}, relevance_level=2)
    per_q2 = te2.evaluate(run)
    assert strict == pytest.approx(sum(v["recall_100"] for v in per_q2.values()) / len(per_q2))
    assert len(per_q2) == len(coll.qrels) and abs(strict - ours["R@100"]) > 0.01  # 0.491 vs 0.453


def test_tied_scores_rank_alike_for_every_measure_as_run_files_write_them(tmp_path) -> None:
    from rankscope.data.readers import write_trec_run

    run, qrels = {"q": {"a": 1.0, "b": 1.0, "c": 0.5}}, {"q": {"b": 1}}
    table = per_query(run, qrels, ["nDCG@10", "RR@10", "P@1"])
    assert {m: v["q"] for m, v in table.items()} == {"nDCG@10": 1.0, "RR@10": 1.0, "P@1": 1.0}
    write_trec_run(run, tmp_path / "run.trec")  # RR@10 read the tie the other way (0.5) before
    assert (tmp_path / "run.trec").read_text().splitlines()[0].split()[2] == "b"
