"""Training batches sorted and chunked by length score as one padded batch does, gradients included."""

from __future__ import annotations

import itertools

import pytest
import torch

from rankscope.data.examples import Group
from rankscope.scorers.decoder import QueryLikelihoodScorer, YesNoScorer
from rankscope.scorers.trainable import (
    DecoderPointReranker,
    QueryLikelihoodReranker,
    tight_chunks,
)

GROUPS = [
    Group("1", "how long do fleas live", ("fleas live a year", "cats", "a flea " * 30), (1.0, 0.0, 0.0)),
    Group("2", "do goldfish grow", ("goldfish grow " * 12, "no", "tanks hold water"), (1.0, 0.0, 0.0)),
]


def padded_cost(lengths: list[int], chunks: list[tuple[int, int]], overhead: int) -> int:
    return sum((b - a) * lengths[a] + overhead for a, b in chunks)


def test_tight_chunks_is_the_cheapest_split() -> None:
    for lengths in ([9, 9, 3, 2, 2, 1], [50, 10, 10, 10, 10], [7], [5, 5, 5, 5]):
        got = tight_chunks(lengths, overhead=4)
        assert got[0][0] == 0 and got[-1][1] == len(lengths)
        assert all(a < b and b == c for (a, b), (c, _) in itertools.pairwise(got))
        n = len(lengths)
        best = min(
            padded_cost(lengths, list(itertools.pairwise((0, *cuts, n))), 4)
            for k in range(n)
            for cuts in itertools.combinations(range(1, n), k)
        )
        assert padded_cost(lengths, got, 4) == best
    assert tight_chunks([]) == []


@pytest.mark.parametrize("kind", ["yes-no", "query-likelihood"])
def test_chunked_batch_scores_and_grads_as_one_padded_batch(llama, tokenizer, kind: str) -> None:
    if kind == "yes-no":
        reranker = DecoderPointReranker(YesNoScorer(llama, tokenizer), llama)
    else:
        reranker = QueryLikelihoodReranker(QueryLikelihoodScorer(llama, tokenizer), llama)
    assert "bounds" not in reranker.collate(GROUPS)  # off by default
    reranker.tight_batches = True
    batch = reranker.collate(GROUPS)
    assert len(batch["bounds"]) > 1  # lengths differ enough to split
    inputs = {k: v for k, v in batch.items() if k not in ("labels", "n_tokens")}
    plain = {k: v for k, v in inputs.items() if k not in ("order", "bounds")}
    order = batch["order"]
    plain["input_ids"] = torch.empty_like(plain["input_ids"]).index_copy(0, order, plain["input_ids"])
    plain["attention_mask"] = torch.empty_like(plain["attention_mask"]).index_copy(
        0, order, plain["attention_mask"]
    )
    if "spans" in plain:
        plain["spans"] = torch.empty_like(plain["spans"]).index_copy(0, order, plain["spans"])
    grads = []
    for args in (inputs, plain):
        llama.zero_grad()
        scores = reranker(**args)
        scores.sum().backward()
        grads.append((scores.detach(), llama.get_input_embeddings().weight.grad.clone()))
    assert grads[0][0].shape == (2, 3)
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-3, atol=1e-5)
    assert batch["n_tokens"] == int(batch["attention_mask"].sum())
