"""The bi-encoder embeds texts in length-sorted batches and gives each text the embedding it gets alone."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModel

from rankscope.scorers.base import Pair
from rankscope.scorers.encoder import BiEncoderScorer

TEXTS = ["a", "a flea " * 20, "goldfish grow", "cats " * 7, "wifi", "tanks hold water " * 3]


def test_sorted_batches_embed_each_text_as_alone(tokenizer, bert_dir: Path) -> None:
    scorer = BiEncoderScorer(AutoModel.from_pretrained(bert_dir).eval(), tokenizer, batch=4)
    done: list[int] = []
    emb = scorer.embed(TEXTS, done.append)
    assert done == [4, 2] and emb.shape[0] == len(TEXTS)
    for text, row in zip(TEXTS, emb, strict=True):
        torch.testing.assert_close(row, scorer.embed([text])[0], rtol=1e-5, atol=1e-5)
    assert torch.allclose(emb.norm(dim=1), torch.ones(len(TEXTS)))
    scores = scorer.score([Pair(TEXTS[0], TEXTS[1]), Pair(TEXTS[2], TEXTS[2])])
    assert abs(scores[1] - 1.0) < 1e-5 and abs(scores[0] - float(emb[0] @ emb[1])) < 1e-5
    assert scorer.score([]) == []


def test_one_budget_alone_sets_an_encoders_length(tokenizer, bert_dir: Path) -> None:
    import pytest

    from rankscope.errors import InputError
    from rankscope.scorers.registry import build_scorer

    model = AutoModel.from_pretrained(bert_dir).eval()
    for name in ("bi-encoder", "cross-encoder"):
        assert build_scorer(name, model, tokenizer, max_doc_tokens=300).max_length == 64 + 300  # was 256
        assert build_scorer(name, model, tokenizer, max_query_tokens=32).max_length == 32 + 192
        assert build_scorer(name, model, tokenizer).max_length == 256
        with pytest.raises(
            InputError, match="--max-doc-tokens: the token budgets add up to 664 .* 512 positions"
        ):
            build_scorer(name, model, tokenizer, max_doc_tokens=600)  # crashed in the model


def test_cross_encoder_reads_a_long_query_and_no_pairs(tokenizer, bert_dir: Path) -> None:
    from rankscope.scorers.encoder import CrossEncoderScorer

    scorer = CrossEncoderScorer(AutoModel.from_pretrained(bert_dir).eval(), tokenizer, max_length=24)
    long_query = "tanks hold water " * 20  # longer than the whole budget: cutting only the document failed
    scores = scorer.score([Pair(long_query, "a flea"), Pair("wifi", "goldfish grow " * 30)])
    assert len(scores) == 2 and all(s == s for s in scores)
    assert max(len(x) for x in scorer.tokenize([Pair(long_query, "a flea")])["input_ids"]) == 24
    assert scorer.score([]) == []  # a chunk of queries without candidates: IndexError before
    # a query that leaves room for the document is never cut, however long (only the document is)
    mid = Pair("tanks hold water tanks hold", "goldfish grow " * 30)  # 17 of 24 tokens: longest_first cut it
    want = tokenizer(mid.query, mid.doc, truncation="only_second", max_length=24)["input_ids"]
    assert scorer.tokenize([mid, Pair(long_query, "a flea")])["input_ids"][0] == want


def test_encoders_pad_on_the_right_whatever_the_tokenizer_says(tokenizer, bert_dir: Path) -> None:
    import copy

    from rankscope.scorers.encoder import CrossEncoderScorer

    tok = copy.deepcopy(tokenizer)
    tok.padding_side = "left"  # absolute positions: left padding moved every score with its batch
    model = AutoModel.from_pretrained(bert_dir).eval()
    other = Pair("cats " * 9, "tanks hold water " * 5)
    for scorer in (BiEncoderScorer(model, tok), CrossEncoderScorer(model, tok)):
        alone = scorer.score([Pair("wifi", "a flea")])[0]
        assert abs(scorer.score([Pair("wifi", "a flea"), other])[0] - alone) < 1e-5
