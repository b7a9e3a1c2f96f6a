"""Linear probes: is relevance linearly readable from the hidden state at each layer, before and after
fine-tuning? Last real token (decoders, right padding), [CLS] (cross-encoders) or, for a bi-encoder, the
elementwise product of the query's and the document's unit-length mean-pooled states (its cosine is their
sum at the last layer); logistic regression with stratified k-fold cross-validation on standardised
features, the folds grouped by query (a query's pairs share most of their state, so a query split across
folds leaks: its positive in training makes its negative look positive in testing, AUC below 0.5);
PCA scatter points for chosen layers. A bi-encoder also gets each layer's own cosine read out with no
fitted weights (the sum of its features), the score that layer would rank by."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rankscope.data.types import Candidates, Document, Qrels
from rankscope.errors import InputError
from rankscope.inspect.views import Item, base_model_view, check_inspectable, eval_mode
from rankscope.scorers.base import Pair, Scorer, decoder_body, model_device, pad_right
from rankscope.scorers.decoder import PairwiseScorer, QueryLikelihoodScorer
from rankscope.scorers.encoder import BiEncoderScorer, CrossEncoderScorer, mean_pool

log = logging.getLogger("rankscope.inspect")
PROBES_FILE = "probes.json"
Task = Literal["pointwise", "pairwise"]


def labelled_pairs(
    candidates: Candidates,
    queries: dict[str, str],
    qrels: Qrels,
    corpus: dict[str, Document] | None = None,
    per_class: int | None = 200,
    min_relevance: int = 1,
    seed: int = 0,
) -> tuple[list[Pair], np.ndarray]:
    """Balanced (query, document) pairs: judged at least `min_relevance` (label 1) vs judged 0 (label 0)
    among the candidates (grades in between are left out), at most `per_class` each, with a fixed seed;
    `per_class=None`: every labelled pair, unbalanced (what `labelled_triples` pairs up within queries).
    Sparse judgments that name no non-relevant candidate at all (MS MARCO's: positives only) take the
    judged queries' unjudged candidates as label 0, as the measures count them."""
    pos: list[Pair] = []
    neg: list[Pair] = []
    unjudged: list[Pair] = []
    for qid, hits in candidates.hits.items():
        query = queries.get(qid) or candidates.queries.get(qid)
        judged = qrels.get(qid, {})
        if not query or not judged:
            continue
        for hit in hits:
            text = hit.text or (corpus[hit.doc_id].full_text if corpus and hit.doc_id in corpus else None)
            if not text:
                continue
            if hit.doc_id not in judged:
                unjudged.append(Pair(query, text))
                continue
            grade = judged[hit.doc_id]
            if grade >= min_relevance:
                pos.append(Pair(query, text))
            elif grade <= 0:
                neg.append(Pair(query, text))
    if not neg:
        neg = unjudged
    rng = random.Random(seed)
    k = min(len(pos), len(neg)) if per_class is None else min(per_class, len(pos), len(neg))
    if k < 2:
        raise InputError("probes need at least 2 judged relevant and 2 judged non-relevant candidates")
    if per_class is None:
        return pos + neg, np.array([1] * len(pos) + [0] * len(neg), dtype=np.int64)
    items = rng.sample(pos, k) + rng.sample(neg, k)
    return items, np.array([1] * k + [0] * k, dtype=np.int64)


def labelled_triples(
    pairs: Sequence[Pair], labels: np.ndarray, n: int = 400, seed: int = 0
) -> tuple[list[tuple[str, str, str]], np.ndarray]:
    """(query, A, B) triples from relevant/non-relevant pairs of one query, at most `n` drawn from every
    such combination; label 1 when A is the better, the order drawn at random so both classes are equally
    common. Give it every labelled pair (`labelled_pairs(per_class=None)`): a balanced sample of pairs
    drawn across queries leaves few queries with both a relevant and a non-relevant one (18 triples of
    400 asked on 20 MS MARCO dev queries)."""
    by_query: dict[str, tuple[list[str], list[str]]] = {}
    for p, y in zip(pairs, labels, strict=True):
        by_query.setdefault(p.query, ([], []))[0 if y else 1].append(p.doc)
    rng = random.Random(seed)
    options = [(q, a, b) for q, (good, bad) in by_query.items() for a in good for b in bad]
    rng.shuffle(options)
    triples, out = [], []
    for q, good, bad in options[:n]:
        if rng.random() < 0.5:
            triples.append((q, good, bad))
            out.append(1)
        else:
            triples.append((q, bad, good))
            out.append(0)
    return triples, np.array(out, dtype=np.int64)


def _decoder_seqs(scorer: Scorer, items: Sequence[Item]) -> list[list[int]]:
    if isinstance(scorer, QueryLikelihoodScorer):
        return scorer.encode(items)[0]  # type: ignore[arg-type]
    encode = getattr(scorer, "encode", None)
    if encode is None:
        raise InputError(f"scorer '{scorer.name}' cannot be probed")
    return encode(items)


def _pooled_layers(scorer: BiEncoderScorer, texts: list[str], batch_size: int) -> torch.Tensor:
    """(layers + 1, n, hidden): each text's unit-length mean-pooled state after the embeddings and each
    block, encoded alone as the bi-encoder encodes it."""
    device = model_device(scorer.model)
    chunks = []
    for i in range(0, len(texts), batch_size):
        enc = {k: t.to(device) for k, t in scorer.tokenize(texts[i : i + batch_size]).items()}
        out = scorer.model(**enc, output_hidden_states=True).hidden_states
        chunks.append(torch.stack([mean_pool(h, enc["attention_mask"]) for h in out]).float())
    return torch.cat(chunks, dim=1)


def hidden_states(scorer: Scorer, items: Sequence[Item], batch_size: int = 16) -> np.ndarray:
    """(layers + 1, n, hidden) float32: the scoring position's state after the embeddings (0) and each
    block; decoders use the last real token of the scorer's own prompt, cross-encoders [CLS], a
    bi-encoder the product of the query's and the document's pooled states."""
    check_inspectable(scorer)
    model = scorer.model  # type: ignore[attr-defined]
    if isinstance(scorer, BiEncoderScorer):
        with torch.inference_mode():
            q = _pooled_layers(scorer, [p.query for p in items], batch_size)  # type: ignore[union-attr]
            d = _pooled_layers(scorer, [p.doc for p in items], batch_size)  # type: ignore[union-attr]
        return (q * d).cpu().numpy()
    device = model_device(model)
    chunks: list[np.ndarray] = []
    with torch.inference_mode():
        if isinstance(scorer, CrossEncoderScorer):
            for i in range(0, len(items), batch_size):
                batch = items[i : i + batch_size]
                enc = scorer.tokenize(batch, return_tensors="pt").to(device)  # type: ignore[arg-type]
                out = model(**enc, output_hidden_states=True).hidden_states
                chunks.append(torch.stack([h[:, 0] for h in out]).float().cpu().numpy())
        else:
            seqs = _decoder_seqs(scorer, items)
            body = decoder_body(model)
            pad = getattr(scorer, "pad_id", 0)
            for i in range(0, len(seqs), batch_size):
                ids, mask = pad_right(seqs[i : i + batch_size], pad, device)
                out = body(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
                rows = torch.arange(ids.shape[0], device=device)
                last = mask.sum(dim=1) - 1
                chunks.append(torch.stack([h[rows, last] for h in out]).float().cpu().numpy())
    return np.concatenate(chunks, axis=1)


@dataclass
class ProbeCurve:
    """Cross-validated accuracy and ROC AUC per layer (mean and std over folds); `readout_auc`, where the
    features have a parameter-free score (a bi-encoder's per-layer cosine), that score's AUC per layer."""

    accuracy: list[float]
    accuracy_std: list[float]
    auc: list[float]
    auc_std: list[float]
    readout_auc: list[float] | None = None


def cv_splits(
    labels: np.ndarray, folds: int, seed: int, groups: Sequence[str] | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold (train, test) index splits; with `groups` (each example's query), no group is
    split across folds and every test fold holds both classes."""
    labels = np.asarray(labels)
    smallest = int(np.bincount(labels).min()) if len(np.unique(labels)) == 2 else 0
    if smallest < 2:
        raise InputError("probes need at least 2 examples of each class")
    x = np.zeros((len(labels), 1))
    if groups is None:
        cv = StratifiedKFold(n_splits=min(folds, smallest), shuffle=True, random_state=seed)
        return list(cv.split(x, labels))
    if len(groups) != len(labels):
        raise InputError(f"{len(groups)} query groups for {len(labels)} probe examples")
    k = min(folds, smallest, len(set(groups)))
    too_few = f"probes need both classes in each of {k} query-grouped folds: too few queries"
    if k < 2:  # one query: scikit-learn refuses a 1-fold split with a ValueError
        raise InputError(too_few)
    splits = list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(x, labels, groups))
    if any(len(np.unique(labels[test])) < 2 for _, test in splits):
        raise InputError(too_few)
    return splits


def probe_layers(
    features: np.ndarray,
    labels: np.ndarray,
    folds: int = 5,
    seed: int = 0,
    readout: bool = False,
    groups: Sequence[str] | None = None,
) -> ProbeCurve:
    """Logistic regression (standardised features) with stratified k-fold CV at every layer, grouped by
    `groups` (each example's query) when given; with `readout`, also the AUC of each layer's feature sum
    (no fitting: a bi-encoder's cosine)."""
    labels = np.asarray(labels)
    splits = cv_splits(labels, folds, seed, groups)
    acc, acc_sd, auc, auc_sd = [], [], [], []
    for x in features:
        accs, aucs = [], []
        for train, test in splits:
            clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
            clf.fit(x[train], labels[train])
            prob = clf.predict_proba(x[test])[:, 1]
            accs.append(float(((prob > 0.5) == labels[test]).mean()))
            aucs.append(float(roc_auc_score(labels[test], prob)))
        acc.append(float(np.mean(accs)))
        acc_sd.append(float(np.std(accs)))
        auc.append(float(np.mean(aucs)))
        auc_sd.append(float(np.std(aucs)))
    sums = [float(roc_auc_score(labels, x.sum(axis=1))) for x in features] if readout else None
    return ProbeCurve(acc, acc_sd, auc, auc_sd, sums)


@dataclass
class PcaView:
    """2-D PCA of one layer's standardised states for one model."""

    layer: int
    model: Literal["base", "tuned"]
    explained: list[float]
    points: list[list[float]]


def pca_view(features: np.ndarray, layer: int, model: Literal["base", "tuned"]) -> PcaView:
    x = StandardScaler().fit_transform(features[layer])
    pca = PCA(n_components=2, random_state=0)
    pts = pca.fit_transform(x)
    return PcaView(layer, model, [float(v) for v in pca.explained_variance_ratio_], np.round(pts, 4).tolist())


@dataclass
class ProbeResult:
    """Per-layer probe curves for the base and the fine-tuned model (layer 0 = embeddings)."""

    task: Task
    labels: list[int]
    folds: int
    base: ProbeCurve | None
    tuned: ProbeCurve | None
    pca: list[PcaView] = field(default_factory=list)
    grouped: bool = False
    """True when the folds were grouped by query (False: too few queries, or a file from before)."""

    @property
    def layers(self) -> list[int]:
        curve = self.tuned or self.base
        return list(range(len(curve.auc))) if curve else []


def probe_study(
    scorer: Scorer,
    items: Sequence[Item],
    labels: Sequence[int] | np.ndarray,
    base_scorer: Scorer | None = None,
    pca_layers: Sequence[int] | None = None,
    folds: int = 5,
    seed: int = 0,
    batch_size: int = 16,
) -> ProbeResult:
    """Probe `scorer` (fine-tuned) and its base: `base_scorer`, or the same PEFT model with adapters off.
    A scorer whose model has no adapters and no `base_scorer` gives only the `base` side. The folds are
    grouped by each item's query."""
    labels = np.asarray(labels, dtype=np.int64)
    task: Task = "pairwise" if isinstance(scorer, PairwiseScorer) else "pointwise"
    model = scorer.model  # type: ignore[attr-defined]
    with eval_mode(model):
        feats = hidden_states(scorer, items, batch_size)
        if base_scorer is not None:
            base_feats: np.ndarray | None = hidden_states(base_scorer, items, batch_size)
        elif hasattr(model, "disable_adapter"):
            with base_model_view(model):
                base_feats = hidden_states(scorer, items, batch_size)
        else:
            base_feats, feats = feats, None  # type: ignore[assignment]
    readout = isinstance(scorer, BiEncoderScorer)
    groups: list[str] | None = [it.query if isinstance(it, Pair) else it[0] for it in items]
    try:
        cv_splits(labels, folds, seed, groups)
    except InputError as e:
        log.warning("probe folds not grouped by query (%s): a query's pairs may leak across folds", e)
        groups = None
    tuned = probe_layers(feats, labels, folds, seed, readout, groups) if feats is not None else None
    base = probe_layers(base_feats, labels, folds, seed, readout, groups) if base_feats is not None else None
    n = len((tuned or base).auc)  # type: ignore[union-attr]
    if pca_layers is None:
        auc = np.asarray((tuned or base).auc, dtype=float)  # type: ignore[union-attr]
        best = int(np.nanargmax(auc)) if np.isfinite(auc).any() else n - 1  # a nan AUC is no best layer
        pca_layers = sorted({n // 2, best, n - 1})
    views = []
    for layer in pca_layers:
        if base_feats is not None:
            views.append(pca_view(base_feats, layer, "base"))
        if feats is not None:
            views.append(pca_view(feats, layer, "tuned"))
    return ProbeResult(task, labels.tolist(), folds, base, tuned, views, groups is not None)


def save_probes(result: ProbeResult, path: str | Path) -> Path:
    path = Path(path)
    data = {"version": 1, **asdict(result)}
    path.write_text(json.dumps(data) + "\n")
    return path


def load_probes(path: str | Path) -> ProbeResult:
    d = json.loads(Path(path).read_text())

    def curve(c: dict | None) -> ProbeCurve | None:
        return ProbeCurve(**c) if c else None

    return ProbeResult(
        d["task"],
        d["labels"],
        d["folds"],
        curve(d["base"]),
        curve(d["tuned"]),
        [PcaView(**v) for v in d["pca"]],
        bool(d.get("grouped", False)),
    )
