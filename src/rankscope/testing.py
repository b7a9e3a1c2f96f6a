"""Tiny random-weight models and a tiny BPE tokenizer trained on the spot, for tests and benches of code
paths (never for claims about ranking quality): what the test suite's fixtures and the benches share."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import BertConfig, BertModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from rankscope.io import host_prefix

CHAT = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TEXT = [
    "Query: Passage: Document A: Document B: Is the passage relevant to the query? Answer with yes or no.",
    "Which document is more relevant to the query? Answer with A or B. Please write a question based on it.",
    "the flea life cycle lasts up to a year depending on hosts and conditions",
    "goldfish grow to fit their tank and can live for many years in ponds",
    "wifi and bluetooth are wireless standards with different ranges and speeds",
    "yes no Yes No A B question passage query document relevant",
]


def killed_copy(target: Path, rest: str = "abcd") -> Path:
    """The name of a temporary copy of `target` that a killed process of this host left beside it
    (`rankscope.io` names them .NAME.tmp-HOST-PID-REST; PID 999999 is no running process here)."""
    return target.parent / f"{host_prefix(target.name)}999999-{rest}"


def make_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    special = ["<unk>", "<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(TEXT * 5, trainer)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )
    fast.chat_template = CHAT
    fast.padding_side = "right"
    return fast


TINY_DECODER = dict(
    hidden_size=32,
    intermediate_size=64,
    num_attention_heads=4,
    num_key_value_heads=2,
    pad_token_id=1,
    bos_token_id=2,
    eos_token_id=3,
)
"""The sizes and special ids of the tiny random decoders tests build (any Llama-style config takes them)."""


def tiny_llama(vocab_size: int, layers: int = 2) -> LlamaForCausalLM:
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=vocab_size, num_hidden_layers=layers, max_position_embeddings=512, **TINY_DECODER
    )
    return LlamaForCausalLM(cfg).eval()


def tiny_bert(vocab_size: int, pad_token_id: int) -> BertModel:
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=512,
        pad_token_id=pad_token_id,
    )
    return BertModel(cfg).eval()  # as from_pretrained returns it: no dropout


class TablePreferences:
    """A pairwise scorer's stand-in for tests of what is built on `prefer`: P(a beats b) read from a table
    of document texts, so that aggregations can be checked by hand."""

    def __init__(self, table: dict[tuple[str, str], float]) -> None:
        self.table = table

    def prefer(self, triples: Sequence[tuple[str, str, str]], progress: object = None) -> list[float]:
        return [self.table[(a, b)] for _, a, b in triples]
