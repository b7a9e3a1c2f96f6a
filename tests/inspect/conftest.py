"""Inspection fixtures: fresh tiny Llamas with LoRA (never the shared session model, which LoRA would
mutate), labelled pairs, and a small dev set with graded judgements."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from peft import LoraConfig, get_peft_model
from torch import nn
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from rankscope.data.types import Candidates, Hit, Qrels
from rankscope.scorers.base import Pair
from rankscope.testing import tiny_llama

TOPICS = {
    "how long do fleas live": ["the flea life cycle lasts up to a year", "fleas live a year on hosts"],
    "do goldfish grow": ["goldfish grow to fit their tank", "goldfish can live for many years in ponds"],
    "wifi vs bluetooth": ["wifi and bluetooth are wireless standards", "bluetooth ranges are short"],
    "which wireless range": ["wireless ranges and speeds differ", "wifi speeds depend on conditions"],
}


def fresh_llama(vocab_size: int, n_layers: int = 3) -> LlamaForCausalLM:
    """A new tiny random Llama (rankscope.testing's), safe to wrap with LoRA."""
    return tiny_llama(vocab_size, n_layers)


def random_lora(
    vocab_size: int, n_layers: int = 3, targets: list[str] | None = None, std: float = 0.3, seed: int = 0
) -> nn.Module:
    """A PEFT LoRA model over a fresh tiny Llama, with B drawn at random so the adapter changes outputs."""
    model = fresh_llama(vocab_size, n_layers)
    cfg = LoraConfig(
        r=4, lora_alpha=8, target_modules=targets or ["q_proj", "v_proj", "up_proj", "down_proj"]
    )
    peft_model = get_peft_model(model, cfg)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * std)
    return peft_model.eval()


@pytest.fixture()
def lora_factory(tokenizer: PreTrainedTokenizerFast) -> Callable[..., nn.Module]:
    """random_lora(n_layers=3, targets=None, std=0.3, seed=0) over the shared tokenizer's vocabulary."""

    def make(**kw: object) -> nn.Module:
        return random_lora(len(tokenizer), **kw)  # type: ignore[arg-type]

    return make


@pytest.fixture()
def pairs() -> tuple[list[Pair], list[int]]:
    """Relevant (own topic) and non-relevant (another topic's passage) pairs, balanced."""
    items, labels = [], []
    queries = list(TOPICS)
    for i, q in enumerate(queries):
        other = queries[(i + 2) % len(queries)]
        for doc in TOPICS[q]:
            items.append(Pair(q, doc))
            labels.append(1)
        for doc in TOPICS[other]:
            items.append(Pair(q, doc))
            labels.append(0)
    return items, labels


@pytest.fixture()
def dev_set() -> tuple[Candidates, dict[str, str], Qrels]:
    """4 queries x 6 candidates (every topic's passages), graded judgements."""
    queries = {f"q{i}": q for i, q in enumerate(TOPICS)}
    docs = [(f"{j}-{k}", d) for j, q in enumerate(TOPICS) for k, d in enumerate(TOPICS[q])]
    hits = {qid: [Hit(did, 0.0, text) for did, text in docs[:6]] for qid in queries}
    hits["q3"] = [Hit(did, 0.0, text) for did, text in docs[2:]]
    qrels: Qrels = {}
    for i, qid in enumerate(queries):
        qrels[qid] = {f"{i}-0": 2, f"{i}-1": 1}
        qrels[qid].update({did: 0 for did, _ in docs if not did.startswith(f"{i}-")})
    return Candidates(hits, dict(queries)), queries, qrels


@pytest.fixture(autouse=True)
def _single_thread(one_thread: None) -> None:
    """Every test here runs torch on one thread (tests/conftest.py's one_thread)."""
