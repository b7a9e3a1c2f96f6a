"""GGUF export: llama.cpp names and metadata, f16 / q8_0, read back by transformers with score parity."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType, GGUFReader
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from rankscope.errors import InputError
from rankscope.export_gguf import GgufParityError, check_parity, export_model_gguf, sample_pairs, write_gguf
from rankscope.scorers.registry import build_scorer

pytestmark = pytest.mark.usefixtures("one_thread")


def field(reader: GGUFReader, key: str):  # noqa: ANN201
    return reader.fields[key].contents()


@pytest.mark.parametrize(("quant", "max_diff"), [("f16", 1e-3), ("q8_0", 2e-2)])
@pytest.mark.parametrize("scorer", ["yes-no", "query-likelihood"])
def test_gguf_round_trip_scores_like_torch(
    llama, tokenizer: PreTrainedTokenizerFast, tmp_path: Path, quant: str, max_diff: float, scorer: str
) -> None:
    path = write_gguf(llama, tokenizer, tmp_path / f"model-{quant}.gguf", quant)
    reader = GGUFReader(path)
    assert field(reader, "general.architecture") == "llama"
    assert field(reader, "tokenizer.ggml.model") == "gpt2"
    assert len(field(reader, "tokenizer.ggml.tokens")) == llama.config.vocab_size
    assert field(reader, "tokenizer.chat_template") == tokenizer.chat_template
    assert field(reader, "llama.attention.head_count_kv") == 2
    types = {t.name: t.tensor_type for t in reader.tensors}
    assert ("output.weight" in types) == (not llama.config.tie_word_embeddings)  # tied: token_embd reused
    assert types["blk.1.attn_norm.weight"] == GGMLQuantizationType.F32
    want = GGMLQuantizationType.Q8_0 if quant == "q8_0" else GGMLQuantizationType.F16
    assert types["blk.0.attn_q.weight"] == want and types["token_embd.weight"] == want
    parity = check_parity(build_scorer(scorer, llama, tokenizer), path, quant)
    assert parity["max_abs_diff"] < max_diff and parity["spearman"] > 0.99
    assert parity["pairs"] == 36 and parity["same_tokens"] == 1.0


def test_qk_permutation_is_llama_cpp_s(llama, tokenizer: PreTrainedTokenizerFast, tmp_path: Path) -> None:
    """Rows of q are stored with each head's rotary halves interleaved, as convert_hf_to_gguf.py does."""
    reader = GGUFReader(write_gguf(llama, tokenizer, tmp_path / "m.gguf", "f16"))
    stored = next(t for t in reader.tensors if t.name == "blk.0.attn_q.weight").data
    q = llama.model.layers[0].self_attn.q_proj.weight.detach().numpy()
    head = q.shape[0] // 4  # 4 heads of 8: rows 0,4,1,5,... of each head
    order = np.concatenate([h * head + np.arange(head).reshape(2, -1).T.reshape(-1) for h in range(4)])
    assert np.allclose(stored.astype(np.float32), q[order], atol=1e-3)


def test_corrupted_or_mismatched_gguf_fails_parity(
    llama, tokenizer: PreTrainedTokenizerFast, tmp_path: Path
) -> None:
    ref = build_scorer("yes-no", llama, tokenizer)
    path = write_gguf(llama, tokenizer, tmp_path / "model-f16.gguf", "f16")
    other = write_gguf(copy.deepcopy(llama).apply(_reseed), tokenizer, tmp_path / "o.gguf")
    with pytest.raises(GgufParityError, match="differ from the torch model"):
        check_parity(ref, other, "f16")  # another model's weights
    reader = GGUFReader(path, "r+")
    embd = next(t for t in reader.tensors if t.name == "token_embd.weight")
    embd.data[:] = embd.data[::-1].copy()  # scramble the embedding rows in place
    del reader
    with pytest.raises(GgufParityError) as err:
        check_parity(ref, path, "f16")
    assert isinstance(err.value, InputError) and "Spearman" in str(err.value)


def _reseed(module: torch.nn.Module) -> None:
    if isinstance(module, torch.nn.Linear):
        torch.nn.init.normal_(module.weight, std=0.5)


def test_non_llama_and_bad_quant_are_refused(
    tokenizer: PreTrainedTokenizerFast, llama, tmp_path: Path
) -> None:
    cfg = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=4, num_key_value_heads=2,
    )  # fmt: skip
    with pytest.raises(InputError, match="Llama-architecture models only; this one is 'qwen2'"):
        write_gguf(Qwen2ForCausalLM(cfg), tokenizer, tmp_path / "q.gguf")
    with pytest.raises(InputError, match="unknown GGUF quant 'q4_0'"):
        write_gguf(llama, tokenizer, tmp_path / "q.gguf", "q4_0")
    assert not list(tmp_path.iterdir())


def test_export_model_gguf_writes_one_checked_file(llama_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny-q8_0.gguf"
    parity = export_model_gguf(llama_dir, out, "q8_0", scorer="query-likelihood")
    assert out.is_file() and parity["file"] == str(out) and parity["tolerance"]["max_abs_diff"] == 0.25
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


@pytest.mark.parametrize("scorer", ["yes-no", "query-likelihood"])
def test_llama_cpp_scores_the_gguf_like_torch(
    llama, tokenizer: PreTrainedTokenizerFast, tmp_path: Path, scorer: str
) -> None:
    """Where llama-cpp-python is installed (an optional extra), llama.cpp itself reads the exported file
    and scores as torch does; the export's parity check records it."""
    pytest.importorskip("llama_cpp")
    from rankscope.llamacpp import LlamaCppScorer

    ref = build_scorer(scorer, llama, tokenizer)
    path = write_gguf(llama, tokenizer, tmp_path / "model-f16.gguf", "f16")
    pairs = sample_pairs()[:12]
    served = LlamaCppScorer(path, ref, threads=1).score(pairs)
    assert max(abs(a - b) for a, b in zip(ref.score(pairs), served, strict=True)) < 0.05
    parity = check_parity(ref, path, "f16")
    assert parity["llama_cpp"]["spearman"] > 0.99


def test_llama_cpp_backend_is_refused_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    from rankscope import llamacpp

    monkeypatch.setattr(llamacpp, "available", lambda: False)
    with pytest.raises(InputError, match="pip install llama-cpp-python"):
        llamacpp.LlamaCppScorer("m.gguf", object())  # type: ignore[arg-type]


def test_a_gguf_written_again_at_its_path_is_read_anew(
    llama_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rankscope.models.loading import resolve_model

    monkeypatch.setenv("RANKSCOPE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "model-f16.gguf"
    export_model_gguf(llama_dir, out, "f16", scorer="query-likelihood")
    first = resolve_model(out)
    data = bytearray(out.read_bytes())
    data[-2] ^= 0x01  # another weight value in the last tensor: what a re-export of another run writes
    out.write_bytes(bytes(data))  # the same path and size
    assert resolve_model(out) != first  # the first model's converted folder was read before
