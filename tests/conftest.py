"""Shared fixtures: a tiny BPE tokenizer trained here and tiny random-weight models built from configs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest.mock import patch

import pytest
import torch
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from rankscope.testing import make_tokenizer, tiny_bert, tiny_llama

os.environ.setdefault("HF_HUB_OFFLINE", "1")


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


@pytest.fixture()
def invoke() -> Callable[..., int | None]:
    """`invoke(*args)` runs the console entry point (with its error handler) and returns the exit code."""
    from rankscope.cli import main

    def run(*args: str) -> int | None:
        with patch.object(sys, "argv", ["rankscope", *args]), pytest.raises(SystemExit) as exc:
            main()
        return exc.value.code

    return run
