from __future__ import annotations

from rankscope.data.types import Document
from rankscope.retrieve.bm25 import bm25_retrieve

CORPUS = {
    "d1": Document("d1", "fleas live for up to a year on a host"),
    "d2": Document("d2", "goldfish grow in ponds", title="Goldfish"),
    "d3": Document("d3", "bluetooth and wifi are wireless standards"),
}


def test_bm25_ranks_matching_document_first_with_text() -> None:
    cands = bm25_retrieve(CORPUS, {"q1": "how long do fleas live", "q2": "goldfish"}, k=2)
    assert cands.hits["q1"][0].doc_id == "d1"
    assert cands.hits["q2"][0].doc_id == "d2"
    assert cands.hits["q2"][0].text == "Goldfish. goldfish grow in ponds"
    assert all(h.score > 0 for hits in cands.hits.values() for h in hits)
    assert cands.queries["q1"] == "how long do fleas live"


def test_bm25_drops_zero_score_hits() -> None:
    cands = bm25_retrieve(CORPUS, {"q": "zebra"}, k=3)
    assert cands.hits["q"] == []


def test_ties_at_the_cut_are_chosen_by_doc_id_whatever_the_corpus_order(monkeypatch) -> None:
    import rankscope.retrieve.bm25 as bm25

    monkeypatch.setattr(bm25, "TIE_MARGIN", 1)  # the tie runs past the first fetch: fetched again
    same = {f"d{i:02d}": Document(f"d{i:02d}", "goldfish grow in tanks") for i in range(6)}
    other = {"x": Document("x", "goldfish goldfish goldfish grow"), "y": Document("y", "cats sleep")}
    for corpus in ({**same, **other}, dict(reversed([*same.items(), *other.items()]))):
        hits = bm25_retrieve(corpus, {"q": "goldfish"}, k=3).hits["q"]
        assert [h.doc_id for h in hits] == ["x", "d05", "d04"]  # was d00, d01 or d03, d02 by corpus order
