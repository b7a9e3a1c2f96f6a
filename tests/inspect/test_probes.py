"""Linear probes: hidden states at the scoring position for every layer, cross-validated probe curves
for base vs fine-tuned, PCA views, the JSON round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rankscope.data.types import Candidates, Hit
from rankscope.errors import InputError
from rankscope.inspect.probes import (
    cv_splits,
    hidden_states,
    labelled_pairs,
    labelled_triples,
    load_probes,
    probe_layers,
    probe_study,
    save_probes,
)
from rankscope.scorers.decoder import PairwiseScorer, YesNoScorer
from rankscope.scorers.encoder import BiEncoderScorer


def test_hidden_states_take_each_rows_last_real_token(lora_factory, tokenizer, pairs) -> None:
    items, _ = pairs
    model = lora_factory(n_layers=3)
    scorer = YesNoScorer(model, tokenizer)
    feats = hidden_states(scorer, items, batch_size=3)  # mixed lengths: right padding in each batch
    assert feats.shape == (4, len(items), 32) and feats.dtype == np.float32
    ids = torch.tensor([scorer.encode([items[5]])[0]])
    with torch.no_grad():
        alone = model.base_model.model.model(input_ids=ids, output_hidden_states=True).hidden_states
    for layer in range(4):
        assert np.allclose(feats[layer, 5], alone[layer][0, -1].numpy(), atol=1e-5)


def test_bi_encoder_features_sum_to_its_cosine(bert_dir: Path, tokenizer, pairs) -> None:
    """A bi-encoder's probe features are query x document pooled states per layer: at the last layer they
    sum to exactly the cosine it ranks by."""
    from transformers import AutoModel

    items, _ = pairs
    scorer = BiEncoderScorer(AutoModel.from_pretrained(bert_dir).eval(), tokenizer, batch=4)
    feats = hidden_states(scorer, items, batch_size=3)
    layers = scorer.model.config.num_hidden_layers
    assert feats.shape == (layers + 1, len(items), scorer.model.config.hidden_size)
    assert np.allclose(feats[-1].sum(-1), scorer.score(items), atol=1e-5)
    assert not np.allclose(feats[0].sum(-1), feats[-1].sum(-1), atol=1e-3)


def test_bi_encoder_probe_reads_out_each_layers_cosine(bert_dir: Path, tokenizer, pairs) -> None:
    """The readout AUC is the AUC of the layer's own cosine: at the last layer, of the scores it ranks by."""
    from sklearn.metrics import roc_auc_score
    from transformers import AutoModel

    items, labels = pairs
    scorer = BiEncoderScorer(AutoModel.from_pretrained(bert_dir).eval(), tokenizer, batch=4)
    base = BiEncoderScorer(AutoModel.from_pretrained(bert_dir).eval(), tokenizer, batch=4)
    res = probe_study(scorer, items, labels, base_scorer=base, folds=3, pca_layers=[])
    assert res.tuned is not None and res.tuned.readout_auc is not None
    assert len(res.tuned.readout_auc) == len(res.tuned.auc)
    assert res.tuned.readout_auc[-1] == pytest.approx(roc_auc_score(labels, scorer.score(items)))
    assert res.base is not None and res.base.readout_auc == res.tuned.readout_auc  # same weights


def test_readout_is_the_feature_sums_auc() -> None:
    labels = np.array([0, 1] * 10)
    x = np.zeros((20, 3))
    x[:, 0] = labels  # the sum orders every positive above every negative
    curve = probe_layers(np.stack([x, -x]), labels, folds=2, readout=True)
    assert curve.readout_auc == [1.0, 0.0]
    assert probe_layers(np.stack([x]), labels, folds=2).readout_auc is None


def test_probe_layers_find_the_separable_layer() -> None:
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 40)
    noise = rng.normal(size=(80, 8))
    signal = noise.copy()
    signal[:, 0] += 3.0 * labels
    curve = probe_layers(np.stack([noise, signal]), labels, folds=4)
    assert len(curve.auc) == 2 and all(0 <= v <= 1 for v in curve.auc + curve.accuracy)
    assert curve.auc[1] > 0.95 and abs(curve.auc[0] - 0.5) < 0.2
    with pytest.raises(InputError):
        probe_layers(np.stack([noise]), np.zeros(80, dtype=int))


def test_folds_grouped_by_query_stop_the_leak() -> None:
    """A query's positive and negative share their state: split across folds, the probe learns the query
    and scores its held-out twin backwards (AUC far below 0.5); grouped folds read chance."""
    rng = np.random.default_rng(0)
    n = 60
    per_query = rng.normal(size=(n, 16))
    x = np.repeat(per_query, 2, axis=0) + 0.01 * rng.normal(size=(2 * n, 16))
    labels = np.tile([1, 0], n)
    groups = [f"q{i}" for i in range(n) for _ in (0, 1)]
    leaky = probe_layers(x[None], labels, folds=5)
    grouped = probe_layers(x[None], labels, folds=5, groups=groups)
    assert leaky.auc[0] < 0.3 and abs(grouped.auc[0] - 0.5) < 0.15
    for _, test in cv_splits(labels, 5, 0, groups):
        assert {groups[i] for i in test}.isdisjoint({groups[i] for i in set(range(2 * n)) - set(test)})
    with pytest.raises(InputError, match="too few queries"):
        cv_splits(np.array([1, 0, 1, 0]), 5, 0, ["a", "a", "b", "a"])
    with pytest.raises(InputError, match="query groups"):
        cv_splits(labels, 5, 0, groups[:3])
    with pytest.raises(InputError, match="too few queries"):  # one query: a ValueError from scikit-learn
        cv_splits(np.array([1, 0, 1, 0]), 5, 0, ["a"] * 4)


def test_probe_study_base_vs_tuned(lora_factory, tokenizer, pairs, tmp_path: Path) -> None:
    items, labels = pairs
    model = lora_factory(n_layers=2)
    res = probe_study(YesNoScorer(model, tokenizer), items, labels, folds=3, pca_layers=[1, 2])
    assert res.task == "pointwise" and res.layers == [0, 1, 2]
    assert res.grouped  # 4 queries, each with both classes: 3 query-grouped folds
    assert res.base is not None and res.tuned is not None
    assert res.base.auc[0] == 0.5  # the last prompt token's embedding is the same for every pair
    assert res.base.readout_auc is None  # a decoder's state has no parameter-free score
    assert res.base.auc != res.tuned.auc  # the adapter changes the states
    assert [(v.layer, v.model) for v in res.pca] == [(1, "base"), (1, "tuned"), (2, "base"), (2, "tuned")]
    assert np.array(res.pca[0].points).shape == (len(items), 2)
    back = load_probes(save_probes(res, tmp_path / "probes.json"))
    assert back == res


def test_untrained_adapter_probes_like_the_base(lora_factory, tokenizer, pairs) -> None:
    items, labels = pairs
    res = probe_study(YesNoScorer(lora_factory(n_layers=2, std=0.0), tokenizer), items, labels, folds=3)
    assert res.base == res.tuned


def test_sparse_judgments_take_unjudged_candidates_as_negatives(dev_set) -> None:
    """MS MARCO judges positives only: with no judged-0 candidate anywhere, the judged queries' unjudged
    candidates are the negatives; with judged zeros present, unjudged ones are never used."""
    cands, queries, qrels = dev_set
    sparse = {q: {d: g for d, g in judged.items() if g > 0} for q, judged in qrels.items()}
    sparse.pop("q3")  # an unjudged query gives no pairs at all
    items, labels = labelled_pairs(cands, queries, sparse, per_class=50, seed=0)
    texts = {h.doc_id: h.text for hits in cands.hits.values() for h in hits}
    positives = sum(1 for q, judged in sparse.items() for h in cands.hits[q] if h.doc_id in judged)
    assert len(labels) == 2 * positives and labels.sum() == positives
    for pair, y in zip(items, labels, strict=True):
        qid = next(q for q, text in queries.items() if text == pair.query)
        assert qid != "q3"
        relevant = {texts[d] for d in sparse[qid]}
        assert (pair.doc in relevant) == bool(y)
    dense_items, _ = labelled_pairs(cands, queries, qrels, per_class=50, seed=0)
    negatives = {(p.query, p.doc) for p in dense_items[len(dense_items) // 2 :]}
    judged_zero = {
        (queries[q], h.text) for q, hits in cands.hits.items() for h in hits if qrels[q].get(h.doc_id) == 0
    }
    assert negatives <= judged_zero


def test_triples_come_from_every_labelled_pair() -> None:
    """20 queries of 1 judged positive among 20 candidates (MS MARCO's dev part): a balanced sample of
    pairs drawn across queries left a few queries with both classes, so the pairwise probe got a handful
    of triples; every labelled pair gives one per positive and negative of a query."""
    hits = {f"q{i}": [Hit(f"d{i}-{j}", 20.0 - j, f"text {i} {j}") for j in range(20)] for i in range(20)}
    cands = Candidates(hits, {q: f"query {q}" for q in hits})
    qrels = {q: {f"d{q[1:]}-3": 1} for q in hits}
    sampled = labelled_pairs(cands, cands.queries, qrels, per_class=20)
    every = labelled_pairs(cands, cands.queries, qrels, per_class=None)
    assert len(every[0]) == 400 and every[1].sum() == 20  # all 20 positives and 380 negatives
    few, _ = labelled_triples(*sampled, n=400)
    many, labels = labelled_triples(*every, n=400)
    assert len(few) < 40 and len(many) == 380 and 0.3 < labels.mean() < 0.7


def test_pairwise_probe_and_labelled_sets(lora_factory, tokenizer, pairs, dev_set) -> None:
    cands, queries, qrels = dev_set
    items, labels = labelled_pairs(cands, queries, qrels, per_class=5, seed=1)
    assert len(items) == 10 and labels.tolist() == [1] * 5 + [0] * 5
    triples, tl = labelled_triples(*pairs, n=16, seed=0)
    assert len(triples) == 16 and 0 < tl.sum() < 16
    for (q, a, b), y in zip(triples, tl, strict=True):
        good = {p.doc for p, lab in zip(pairs[0], pairs[1], strict=True) if lab and p.query == q}
        assert (a in good) == bool(y) and (b in good) != bool(y)
    res = probe_study(
        PairwiseScorer(lora_factory(n_layers=2), tokenizer), triples, tl, folds=2, pca_layers=[2]
    )
    assert res.task == "pairwise" and len(res.tuned.auc) == 3
