"""Trainable rerankers: a scorer's differentiable path as an nn.Module that batches groups and scores them.

Each module owns what training updates (the prepared backbone and any scoring head), builds padded
batches from groups with the scorer's own `encode` (so training and reranking see the same tokens), and
returns scores shaped (groups, group size), or A/B logits for the pairwise scorer. A scorer names its
reranker class in its registry entry (rankscope.scorers.registry).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from rankscope.data.examples import Group
from rankscope.errors import InputError
from rankscope.scorers.base import Pair, Scorer, pad_right
from rankscope.scorers.decoder import PairwiseScorer, QueryLikelihoodScorer, YesNoScorer
from rankscope.scorers.encoder import BiEncoderScorer, CrossEncoderScorer

CPU = torch.device("cpu")


def group_labels(groups: Sequence[Group]) -> torch.Tensor:
    sizes = {len(g.docs) for g in groups}
    if len(sizes) != 1:
        raise ValueError(f"groups in a batch must have one size, got {sorted(sizes)}")
    return torch.tensor([list(g.labels) for g in groups], dtype=torch.float32)


def group_pairs(groups: Sequence[Group]) -> list[Pair]:
    return [Pair(g.query, d) for g in groups for d in g.docs]


CHUNK_OVERHEAD = 64
"""What one more forward call costs, in padded tokens, when `tight_chunks` weighs splitting a batch."""


def tight_chunks(lengths: Sequence[int], overhead: int = CHUNK_OVERHEAD) -> list[tuple[int, int]]:
    """Rows sorted longest first, split into consecutive chunks [a, b) that minimise the tokens run (each
    chunk padded to its first row's length) plus `overhead` per chunk: exact dynamic programming."""
    n = len(lengths)
    best = [0] + [1 << 62] * n
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j):
            cost = best[i] + (j - i) * lengths[i] + overhead
            if cost < best[j]:
                best[j], cut[j] = cost, i
    out, j = [], n
    while j > 0:
        out.append((cut[j], j))
        j = cut[j]
    return out[::-1]


def sorted_padded(
    seqs: list[list[int]], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sequences longest first, right-padded, with `order` (row k holds sequence order[k]) and the
    chunk bounds (K, 2) that `tight_forward` runs one at a time, each cut to its own width."""
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
    ids, mask = pad_right([seqs[i] for i in order], pad_id, CPU)
    bounds = tight_chunks([len(seqs[i]) for i in order])
    return ids, mask, torch.tensor(order, dtype=torch.long), torch.tensor(bounds, dtype=torch.long)


def tight_forward(
    fn: Callable[[torch.Tensor, torch.Tensor, slice], torch.Tensor],
    ids: torch.Tensor,
    mask: torch.Tensor,
    order: torch.Tensor,
    bounds: torch.Tensor,
) -> torch.Tensor:
    """`fn(ids, mask, rows)` per chunk of a `sorted_padded` batch, with no column past the chunk's longest
    row, the scores put back in the batch's original order (no FLOPs spent on most of the padding)."""
    parts = []
    for a, b in bounds.tolist():
        width = int(mask[a].sum())
        parts.append(fn(ids[a:b, :width], mask[a:b, :width], slice(a, b)))
    scores = torch.cat(parts)
    return scores.new_zeros(scores.shape).index_copy(0, order, scores)


def make_batch(labels: torch.Tensor, **tensors: torch.Tensor) -> dict[str, Any]:
    """Model inputs plus `labels` and `n_tokens` (both popped before the forward) and the group size."""
    mask = tensors["attention_mask"]
    size = int(labels.shape[-1]) if labels.dim() == 2 else 1
    return {**tensors, "group_size": size, "labels": labels, "n_tokens": int(mask.sum())}


class TrainableReranker(nn.Module):
    """Backbone (+ head) under training; `collate` makes a batch, `forward(**batch)` scores it."""

    tight_batches = False
    """decoder rerankers: sort each batch by length and run it in chunks cut to their own width
    (`tight_chunks`), so little compute goes to padding (a subclass that overrides `forward` gets plain
    padded batches). Off by default: on a 2-core AMX CPU under bf16 autocast it ran 0.84x as fast as one
    padded batch despite 28% fewer tokens (bench/train_cpu.py, docs/results.md): each extra chunk costs
    more than the padding it saves there."""

    def __init__(
        self, scorer: Scorer, model: nn.Module, head: nn.Module | None = None, seed: int = 0
    ) -> None:
        super().__init__()
        self.model = model
        self.head = head
        self.scorer = scorer
        self.seed = seed

    @property
    def name(self) -> str:
        return self.scorer.name

    def collate(self, groups: Sequence[Group]) -> dict[str, Any]:
        raise NotImplementedError

    def forward(self, **batch: Any) -> torch.Tensor:
        raise NotImplementedError


class DecoderPointReranker(TrainableReranker):
    """Yes/no logit or linear head on the last token: one score per (query, document)."""

    scorer: YesNoScorer

    def collate(self, groups: Sequence[Group]) -> dict[str, Any]:
        labels = group_labels(groups)
        seqs = self.scorer.encode(group_pairs(groups))
        if not self.tight_batches or type(self).forward is not DecoderPointReranker.forward:
            ids, mask = pad_right(seqs, self.scorer.pad_id, CPU)
            return make_batch(labels, input_ids=ids, attention_mask=mask)
        ids, mask, order, bounds = sorted_padded(seqs, self.scorer.pad_id)
        return make_batch(labels, input_ids=ids, attention_mask=mask, order=order, bounds=bounds)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        group_size: int,
        order: torch.Tensor | None = None,
        bounds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Scores (groups, group size); with `order` and `bounds` (collate's), chunk by chunk."""
        if order is None or bounds is None:
            return self.scorer.logits(input_ids, attention_mask).view(-1, group_size)
        scores = tight_forward(
            lambda ids, mask, _rows: self.scorer.logits(ids, mask), input_ids, attention_mask, order, bounds
        )
        return scores.view(-1, group_size)


class QueryLikelihoodReranker(TrainableReranker):
    """Mean log P(query | document) per (query, document)."""

    scorer: QueryLikelihoodScorer

    def collate(self, groups: Sequence[Group]) -> dict[str, Any]:
        labels = group_labels(groups)
        seqs, spans = self.scorer.encode(group_pairs(groups))
        if not self.tight_batches or type(self).forward is not QueryLikelihoodReranker.forward:
            ids, mask = pad_right(seqs, self.scorer.pad_id, CPU)
            return make_batch(labels, input_ids=ids, attention_mask=mask, spans=torch.tensor(spans))
        ids, mask, order, bounds = sorted_padded(seqs, self.scorer.pad_id)
        spans_t = torch.tensor([spans[i] for i in order.tolist()], dtype=torch.long)
        return make_batch(
            labels, input_ids=ids, attention_mask=mask, spans=spans_t, order=order, bounds=bounds
        )

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        spans: torch.Tensor,
        group_size: int,
        order: torch.Tensor | None = None,
        bounds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Scores (groups, group size); with `order` and `bounds` (collate's), chunk by chunk."""
        spans_list = [(int(a), int(b)) for a, b in spans.tolist()]
        if order is None or bounds is None:
            return self.scorer.token_logprobs(input_ids, attention_mask, spans_list).view(-1, group_size)

        def run(ids: torch.Tensor, mask: torch.Tensor, rows: slice) -> torch.Tensor:
            return self.scorer.token_logprobs(ids, mask, spans_list[rows])

        return tight_forward(run, input_ids, attention_mask, order, bounds).view(-1, group_size)


class CrossEncoderReranker(TrainableReranker):
    """Query and document encoded together; a linear head on [CLS]."""

    scorer: CrossEncoderScorer

    def collate(self, groups: Sequence[Group]) -> dict[str, Any]:
        labels = group_labels(groups)
        pairs = group_pairs(groups)
        enc = self.scorer.tokenize(pairs, return_tensors="pt")
        return make_batch(labels, **dict(enc))

    def forward(self, group_size: int, **enc: torch.Tensor) -> torch.Tensor:
        return self.scorer.logits(enc).view(-1, group_size)


class BiEncoderReranker(TrainableReranker):
    """Query and documents encoded apart; cosine of mean-pooled embeddings times `scale` (sentence-
    transformers' contrastive scale of 20, so a softmax over a group is not flat). Reranking ranks by the
    plain cosine, the same order."""

    scorer: BiEncoderScorer
    scale = 20.0

    def collate(self, groups: Sequence[Group]) -> dict[str, Any]:
        labels = group_labels(groups)
        queries = self.scorer.tokenize([g.query for g in groups])
        docs = self.scorer.tokenize([d for g in groups for d in g.docs])
        batch = make_batch(labels, attention_mask=docs["attention_mask"])
        batch.pop("attention_mask")
        batch["n_tokens"] += int(queries["attention_mask"].sum())
        return {**batch, "queries": queries, "docs": docs}

    def forward(
        self, queries: dict[str, torch.Tensor], docs: dict[str, torch.Tensor], group_size: int
    ) -> torch.Tensor:
        q = self.scorer.pooled(queries)
        d = self.scorer.pooled(docs).view(q.shape[0], group_size, -1)
        return self.scale * (d * q[:, None, :]).sum(-1)


class PairwiseReranker(TrainableReranker):
    """logit(A) - logit(B) for (positive, negative) pairs of each group, in a random but seeded order."""

    scorer: PairwiseScorer

    def triples(self, groups: Sequence[Group]) -> tuple[list[tuple[str, str, str]], list[float]]:
        """(query, A, B) and 1.0 where A is the more relevant; the order is fixed per example by the seed."""
        triples, targets = [], []
        for g in groups:
            rng = random.Random(f"{self.seed}:{g.key}:{g.docs[0][:64]}")
            for j in range(1, len(g.docs)):
                if g.labels[0] == g.labels[j]:
                    continue
                better, worse = (0, j) if g.labels[0] > g.labels[j] else (j, 0)
                if rng.random() < 0.5:
                    triples.append((g.query, g.docs[better], g.docs[worse]))
                    targets.append(1.0)
                else:
                    triples.append((g.query, g.docs[worse], g.docs[better]))
                    targets.append(0.0)
        return triples, targets

    def collate(self, groups: Sequence[Group]) -> dict[str, Any]:
        triples, targets = self.triples(groups)
        if not triples:
            raise InputError("pairwise training needs groups with a positive and a negative")
        ids, mask = pad_right(self.scorer.encode(triples), self.scorer.pad_id, CPU)
        return make_batch(torch.tensor(targets, dtype=torch.float32), input_ids=ids, attention_mask=mask)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, group_size: int) -> torch.Tensor:
        return self.scorer.logits(input_ids, attention_mask)
