"""The share of documents a scorer's document budget cuts, for encoder and decoder scorers."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoModel

from rankscope.scorers.base import Pair, Scorer
from rankscope.scorers.budget import CUT_NOTICE, CutCounter, DocsCut, cut_notice, doc_budget, documents_cut
from rankscope.scorers.encoder import BiEncoderScorer, CrossEncoderScorer
from rankscope.scorers.registry import build_scorer


def lengths(tokenizer, texts: list[str]) -> list[int]:
    return [len(tokenizer.encode(t, add_special_tokens=False)) for t in texts]


def test_bi_encoder_budget_counts_distinct_documents_longer_than_it(tokenizer, bert_dir: Path) -> None:
    scorer = BiEncoderScorer(AutoModel.from_pretrained(bert_dir).eval(), tokenizer, max_length=10)
    budget, _, shared = doc_budget(scorer) or (0, None, True)
    assert budget == 8 and not shared  # [CLS] and [SEP] take two of the ten
    docs = ["goldfish grow", "the flea life cycle lasts up to a year " * 3, "cats " * 30, "goldfish grow"]
    n = lengths(tokenizer, docs[:3])
    assert n[0] <= 8 < min(n[1], n[2])  # the tiny tokenizer's lengths behind the expectation below
    cut = documents_cut(scorer, docs)
    assert cut == DocsCut(8, 3, 2, float(sorted(n)[1]))
    assert cut.share == 2 / 3 and cut.as_dict()["cut"] == 2
    assert "2 of 3 (67%" in cut.message() and "--max-doc-tokens" in cut.message()
    # a cross-encoder shares its length with the query: [CLS] q [SEP] d [SEP], the budget an upper bound
    cross = CrossEncoderScorer(AutoModel.from_pretrained(bert_dir).eval(), tokenizer, max_length=10)
    joint = documents_cut(cross, docs)
    assert joint is not None and (joint.budget, joint.cut, joint.shared_with_query) == (7, 2, True)
    assert "(at most 7 tokens)" in joint.message()


def test_decoder_budget_is_its_prompt_document_slot(tokenizer, llama) -> None:
    scorer = build_scorer("query-likelihood", llama, tokenizer, max_doc_tokens=4)
    doc = "the flea life cycle lasts up to a year"
    cut = documents_cut(scorer, [doc, "cats"])
    assert cut is not None and cut.budget == 4 and cut.docs == 2
    assert cut.cut == sum(n > 4 for n in lengths(tokenizer, [doc, "cats"])) == 1
    wide = build_scorer("yes-no", llama, tokenizer, max_doc_tokens=500)
    assert documents_cut(wide, [doc]).cut == 0  # type: ignore[union-attr]


def test_no_budget_or_no_documents_gives_none(tokenizer, bert_dir: Path) -> None:
    class Plain(Scorer):
        def score(self, pairs, progress=None):  # type: ignore[no-untyped-def]
            return [0.0 for _ in pairs]

    assert documents_cut(Plain(), ["a document"]) is None
    scorer = BiEncoderScorer(AutoModel.from_pretrained(bert_dir).eval(), tokenizer)
    assert documents_cut(scorer, []) is None
    assert Plain().score([Pair("q", "d")]) == [0.0]


def test_counter_counts_each_text_once_across_chunks(tokenizer, bert_dir: Path) -> None:
    scorer = BiEncoderScorer(AutoModel.from_pretrained(bert_dir).eval(), tokenizer, max_length=10)
    docs = ["goldfish grow", "the flea life cycle lasts up to a year " * 3, "cats " * 30]
    counter = CutCounter(scorer)
    counter.add(docs[:2])
    counter.add([docs[1], docs[2], docs[0]])  # a later chunk repeats two of them
    median = float(sorted(lengths(tokenizer, docs))[1])  # counted here, not read back from the counter
    assert counter.result() == documents_cut(scorer, docs) == DocsCut(8, 3, 2, median)
    assert cut_notice(counter.result()) is not None
    assert cut_notice(DocsCut(8, 100, int(CUT_NOTICE * 100) - 1, 5.0)) is None
    assert cut_notice(None) is None and CutCounter(scorer).result() is None
