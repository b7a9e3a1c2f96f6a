"""Attention: query/document token spans match each scorer's encoding, masses per layer and head are
sane, eager attention and hooks are undone afterwards, even after an error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rankscope.inspect.attention import (
    MEASURES,
    attention_mass,
    attention_modules,
    attention_study,
    load_attention,
    save_attention,
    sequence_spans,
)
from rankscope.scorers.decoder import PairwiseScorer, QueryLikelihoodScorer, YesNoScorer


def test_spans_match_the_scorers_encoding(lora_factory, tokenizer, pairs) -> None:
    model = lora_factory(n_layers=2)
    pair = pairs[0][0]
    yes_no = YesNoScorer(model, tokenizer)
    ids, sp = sequence_spans(yes_no, pair)
    assert ids == yes_no.encode([pair])[0]
    assert tokenizer.decode(ids[sp.query[0] : sp.query[1]]).strip() == pair.query
    assert tokenizer.decode(ids[sp.docs[0][0] : sp.docs[0][1]]).strip() == pair.doc
    assert sp.last == len(ids) - 1
    ql = QueryLikelihoodScorer(model, tokenizer)
    ids, sp = sequence_spans(ql, pair)
    seqs, spans = ql.encode([pair])
    assert ids == seqs[0] and sp.query == spans[0] and sp.docs[0][1] <= sp.query[0]
    pw = PairwiseScorer(model, tokenizer)
    triple = (pair.query, pair.doc, pairs[0][2].doc)
    ids, sp = sequence_spans(pw, triple)
    assert ids == pw.encode([triple])[0] and len(sp.docs) == 2
    assert tokenizer.decode(ids[sp.docs[1][0] : sp.docs[1][1]]).strip() == triple[2]


def test_masses_before_after_and_restored_state(lora_factory, tokenizer, pairs, tmp_path: Path) -> None:
    model = lora_factory(n_layers=3)
    impl = model.get_base_model().config._attn_implementation
    res = attention_study(YesNoScorer(model, tokenizer), pairs[0], batch_size=3)
    assert model.get_base_model().config._attn_implementation == impl  # eager only for the pass
    assert all(not m._forward_hooks for m in attention_modules(model))
    for m in MEASURES:
        assert res.before[m].shape == (3, 4) and res.after[m].shape == (3, 4)
        assert (res.before[m] >= 0).all() and (res.before[m] <= 1 + 1e-5).all()
    assert (res.before["query_to_doc"] == 0).all()  # causal: the query comes before the document
    assert (res.before["doc_to_query"] > 0).all()
    assert (res.after["last_to_query"] + res.after["last_to_doc"] <= 1 + 1e-5).all()
    assert np.abs(res.change["last_to_doc"]).max() > 1e-4  # the adapter moves attention
    back = load_attention(save_attention(res, tmp_path / "attention.json"))
    assert back.n_pairs == res.n_pairs and np.allclose(
        back.after["doc_to_query"], res.after["doc_to_query"], atol=1e-6
    )


def test_query_likelihood_direction_and_untrained_adapter(lora_factory, tokenizer, pairs) -> None:
    model = lora_factory(n_layers=2, std=0.0)
    res = attention_study(QueryLikelihoodScorer(model, tokenizer), pairs[0][:4])
    assert (res.before["doc_to_query"] == 0).all() and (res.before["query_to_doc"] > 0).all()
    assert all(np.array_equal(v, np.zeros_like(v)) for v in res.change.values())


def test_hooks_and_attention_restored_after_an_error(lora_factory, tokenizer, pairs) -> None:
    model = lora_factory(n_layers=2)
    impl = model.get_base_model().config._attn_implementation
    mlp = model.base_model.model.model.layers[1].mlp

    def boom(*_args: object) -> None:
        raise RuntimeError("boom")

    handle = mlp.register_forward_hook(boom)
    with pytest.raises(RuntimeError, match="boom"):
        attention_mass(YesNoScorer(model, tokenizer), pairs[0][:2])
    handle.remove()
    assert all(not m._forward_hooks for m in attention_modules(model))
    assert model.get_base_model().config._attn_implementation == impl


def test_masses_under_bf16_autocast_match_float32(lora_factory, tokenizer, pairs) -> None:
    import torch

    scorer = YesNoScorer(lora_factory(n_layers=2), tokenizer)
    ref = attention_mass(scorer, pairs[0], batch_size=3)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as `inspect` runs a run trained under bf16
        got = attention_mass(scorer, pairs[0], batch_size=3)
    for m in MEASURES:
        assert got[m].dtype == np.float32 and np.allclose(got[m], ref[m], atol=0.03)


def test_a_cross_encoder_query_longer_than_its_budget(tokenizer) -> None:
    """A query that leaves no room for the document: the scorer cuts it with the document, and probes and
    attention now read the scorer's own tokens (both raised a tokenizers 'Truncation error' before)."""
    import torch

    from rankscope.inspect.attention import _encoder_batch
    from rankscope.inspect.probes import hidden_states
    from rankscope.scorers.base import Pair
    from rankscope.scorers.encoder import CrossEncoderScorer
    from rankscope.testing import tiny_bert

    scorer = CrossEncoderScorer(tiny_bert(len(tokenizer), tokenizer.pad_token_id), tokenizer, max_length=24)
    long_query = "wifi and bluetooth are wireless standards with different ranges " * 2
    items = [Pair(long_query, "goldfish grow to fit their tank"), Pair("do goldfish grow", "goldfish grow")]
    enc, spans = _encoder_batch(scorer, items)
    assert enc["input_ids"].shape[1] == 24 and spans[0].docs  # the document keeps some tokens
    short = tokenizer("do goldfish grow", "goldfish grow", truncation="only_second", max_length=24)
    seq = short.sequence_ids()
    assert spans[1].query == (seq.index(0), len(seq) - seq[::-1].index(0))  # as the tokenizer's own spans
    masses = attention_mass(scorer, items)
    assert all(np.isfinite(v).all() for v in masses.values()) and masses["doc_to_query"].mean() > 0
    feats = hidden_states(scorer, items)
    with torch.inference_mode():
        out = scorer.model(**scorer.tokenize(items, return_tensors="pt"), output_hidden_states=True)
    np.testing.assert_allclose(feats[-1], out.hidden_states[-1][:, 0].numpy(), atol=1e-5)


def test_masses_equal_the_attention_maps_summed_by_hand(lora_factory, tokenizer, pairs) -> None:
    """Each measure against the model's own attention maps (output_attentions), summed over the spans by
    hand and averaged over the pairs: an off-by-one scoring position or a wrong denominator passed the range
    and direction checks above."""
    import torch

    from rankscope.inspect.attention import eager_attention

    model = lora_factory(n_layers=2)
    scorer = YesNoScorer(model, tokenizer)
    items = [pairs[0][0], pairs[0][-1]]
    got = attention_mass(scorer, items, batch_size=2)  # padded together: lengths differ
    want: dict[str, list[np.ndarray]] = {m: [] for m in MEASURES}
    for item in items:
        ids, sp = sequence_spans(scorer, item)
        with eager_attention(model), torch.no_grad():
            maps = model(input_ids=torch.tensor([ids]), output_attentions=True).attentions
        a = torch.stack([m[0] for m in maps]).double().numpy()  # (layers, heads, T, T)
        (q0, q1), (d0, d1) = sp.query, sp.docs[0]
        want["doc_to_query"].append(a[:, :, d0:d1, q0:q1].sum(-1).mean(-1))
        want["query_to_doc"].append(a[:, :, q0:q1, d0:d1].sum(-1).mean(-1))
        want["last_to_query"].append(a[:, :, sp.last, q0:q1].sum(-1))
        want["last_to_doc"].append(a[:, :, sp.last, d0:d1].sum(-1))
    assert len(items[0].doc) != len(items[1].doc)
    for m in MEASURES:
        np.testing.assert_allclose(got[m], np.mean(want[m], axis=0), atol=1e-5, err_msg=m)
    assert got["doc_to_query"].max() > 0.05 and got["last_to_doc"].max() > 0.05  # not all zeros
