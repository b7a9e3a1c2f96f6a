"""Shared fixtures: a tiny BPE tokenizer trained here and tiny random-weight models built from configs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import BertConfig, BertModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

os.environ.setdefault("HF_HUB_OFFLINE", "1")

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


def make_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    special = ["<unk>", "<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(TEXT * 5, trainer)
    from tokenizers import decoders

    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )
    fast.chat_template = CHAT
    fast.padding_side = "right"
    return fast


@pytest.fixture()
def one_thread() -> Iterator[None]:
    """torch on one thread for the test (small models run faster and alike on any machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tokenizer() -> PreTrainedTokenizerFast:
    return make_tokenizer()


def tiny_llama(vocab_size: int, layers: int = 2) -> LlamaForCausalLM:
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=1,
        bos_token_id=2,
        eos_token_id=3,
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
    return BertModel(cfg)


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer) -> Path:
    path = tmp_path_factory.mktemp("tiny-bert")
    tiny_bert(len(tokenizer), tokenizer.pad_token_id).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def llama(tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    return tiny_llama(len(tokenizer))


@pytest.fixture(scope="session")
def llama_dir(
    tmp_path_factory: pytest.TempPathFactory, llama: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast
) -> Path:
    path = tmp_path_factory.mktemp("tiny-llama")
    llama.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


_DRIVER = """
import resource, signal, sys
from rankscope.cli import main
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[1])
if limit:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.argv = ["rankscope", *sys.argv[2:]]
main()
"""


@pytest.fixture()
def rankscope() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`rankscope ARGS` in a subprocess; with `limit`, no file it writes can grow past that many bytes
    (RLIMIT_FSIZE with SIGXFSZ ignored: a write past it fails with EFBIG, as on a full disk)."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}

    def run(*args: str, limit: int = 0) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-c", _DRIVER, str(limit), *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)

    return run
