"""GGUF export of Llama-architecture rerankers, with a score-parity check against the torch model.

The writer follows llama.cpp's convert_hf_to_gguf.py for `llama`: tensor names (token_embd, blk.N.attn_q
... ffn_down, output_norm, output), the rotary q/k row permutation, F32 norms, the tokenizer as a gpt2
byte-level BPE (tokens in id order, merges from tokenizer.json, control / user-defined token types,
special ids, the chat template). `f16` stores every matrix in float16; `q8_0` stores matrices whose rows
divide into 32-value blocks as Q8_0 (the rest f16). After writing, the file is loaded back with
transformers' own GGUF loader (`from_pretrained(folder, gguf_file=name)`, tokenizer likewise) and a
sample of pairs is scored by both; beyond the quant's tolerance the export is refused (GgufParityError).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rankscope.errors import InputError
from rankscope.scorers.base import Pair, Scorer

QUANTS = ("f16", "q8_0")
TOLERANCE: dict[str, dict[str, float]] = {
    # max |score diff| allowed and the lowest Spearman allowed, per quant (scores: yes/no logit
    # differences or mean token log-probabilities, both in nats)
    "f16": {"max_abs_diff": 0.05, "spearman": 0.99},
    "q8_0": {"max_abs_diff": 0.25, "spearman": 0.95},
}
LLAMA_CPP_TOLERANCE: dict[str, dict[str, float]] = {
    # llama.cpp also rounds activations (f16 or 8-bit blocks) inside its matmuls: wider bounds
    "f16": {"max_abs_diff": 0.1, "spearman": 0.99},
    "q8_0": {"max_abs_diff": 0.5, "spearman": 0.95},
}
PARITY_SCORERS = ("yes-no", "query-likelihood")
PARITY_FILE = "gguf-parity.json"

SAMPLE_QUERIES = [
    "how long do fleas live",
    "what is the range of bluetooth",
    "can goldfish grow large",
    "why do cats sleep so much",
    "what causes rain",
    "how do trains stay on the rails",
]
SAMPLE_DOCS = [
    "An adult flea lives for two to three months; without a host it dies within days.",
    "Bluetooth reaches about ten metres, much less than wifi, which covers a house.",
    "Goldfish kept in ponds can grow to thirty centimetres and live for decades.",
    "Cats sleep twelve to sixteen hours a day, saving energy between hunts.",
    "Rain falls when water droplets in clouds merge and grow too heavy to float.",
    "Train wheels are coned, so the axle steers itself back to the centre of the track.",
]


class GgufParityError(InputError):
    """The GGUF file scores too far from the torch model it was written from."""


def sample_pairs() -> list[Pair]:
    """36 pairs: every sample query with every sample passage (6 relevant, 30 not)."""
    return [Pair(q, d) for q in SAMPLE_QUERIES for d in SAMPLE_DOCS]


# --- writer ---------------------------------------------------------------------------------------


def _llama_config(model: nn.Module) -> Any:
    config = model.config
    if getattr(config, "model_type", None) != "llama":
        raise InputError(
            f"GGUF export supports Llama-architecture models only; this one is "
            f"'{getattr(config, 'model_type', type(model).__name__)}'",
            "--format",
        )
    rope = getattr(config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") != "default":
        raise InputError("GGUF export does not write scaled RoPE (rope_type other than default)", "--format")
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        raise InputError("GGUF export does not write Llama models with bias terms", "--format")
    if config.head_dim * config.num_attention_heads != config.hidden_size:
        raise InputError("GGUF export needs head_dim * heads == hidden_size (llama.cpp's Llama)", "--format")
    return config


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's q/k row order: each head's rotary halves interleaved (convert_hf_to_gguf.py)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


LAYER_NAMES = {
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def gguf_tensors(model: nn.Module) -> dict[str, np.ndarray]:
    """The model's weights under llama.cpp's names, float32, q/k permuted (output dropped when tied)."""
    config = _llama_config(model)
    out: dict[str, np.ndarray] = {}
    for name, tensor in model.state_dict().items():
        w = tensor.detach().float().cpu().numpy()
        if name == "model.embed_tokens.weight":
            out["token_embd.weight"] = w
        elif name == "model.norm.weight":
            out["output_norm.weight"] = w
        elif name == "lm_head.weight":
            if not config.tie_word_embeddings:
                out["output.weight"] = w
        elif name.startswith("model.layers.") and name.endswith(".weight"):
            layer, rest = name.removeprefix("model.layers.").split(".", 1)
            short = LAYER_NAMES.get(rest.removesuffix(".weight"))
            if short is None:
                raise InputError(f"GGUF export does not know the Llama tensor '{name}'", "--format")
            if short == "attn_q":
                w = _permute(w, config.num_attention_heads)
            elif short == "attn_k":
                w = _permute(w, config.num_key_value_heads)
            out[f"blk.{layer}.{short}.weight"] = w
        elif "rotary_emb" not in name:
            raise InputError(f"GGUF export does not know the Llama tensor '{name}'", "--format")
    return out


def _pre_tokenizer_name(pre: dict[str, Any] | None) -> str:
    """llama.cpp's `tokenizer.ggml.pre` for a byte-level pre-tokenizer (SmolLM's splits digits)."""
    parts = pre.get("pretokenizers", [pre]) if pre else []
    kinds = {p.get("type") for p in parts}
    if "Digits" in kinds and "ByteLevel" in kinds:
        return "smollm"
    return "gpt-2" if kinds == {"ByteLevel"} else "default"


def tokenizer_fields(tokenizer: Any, vocab_size: int) -> dict[str, Any]:
    """The gpt2 (byte-level BPE) tokenizer fields llama.cpp reads, from a fast tokenizer."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    data = json.loads(backend.to_str()) if backend is not None else {}
    model, pre = data.get("model", {}), json.dumps(data.get("pre_tokenizer"))
    if model.get("type") != "BPE" or "ByteLevel" not in pre:
        raise InputError(
            "GGUF export needs a byte-level BPE tokenizer (gpt2 style, tokenizer.json)", "--format"
        )
    vocab = tokenizer.get_vocab()
    if len(vocab) > vocab_size:
        raise InputError(
            f"the tokenizer has {len(vocab)} tokens, the model only {vocab_size} rows", "--format"
        )
    added = {int(i): t for i, t in tokenizer.added_tokens_decoder.items()}
    tokens = [f"[PAD{i}]" for i in range(vocab_size)]
    types = [5] * vocab_size  # UNUSED filler rows, as llama.cpp pads
    for token, i in vocab.items():
        tokens[i] = token
        types[i] = (3 if added[i].special else 4) if i in added else 1  # CONTROL, USER_DEFINED, NORMAL
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    probe = tokenizer("a")["input_ids"]
    return {
        "tokens": tokens,
        "types": types,
        "merges": merges,
        "pre": _pre_tokenizer_name(data.get("pre_tokenizer")),
        "add_bos": bool(probe) and probe[0] == tokenizer.bos_token_id,
        "ids": {
            "bos": tokenizer.bos_token_id,
            "eos": tokenizer.eos_token_id,
            "unk": tokenizer.unk_token_id,
            "pad": tokenizer.pad_token_id,
        },
        "chat_template": tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else None,
    }


def write_gguf(
    model: nn.Module, tokenizer: Any, path: str | Path, quant: str = "f16", name: str = ""
) -> Path:
    """Write a Llama-architecture causal LM and its tokenizer as one GGUF file (`quant`: f16 or q8_0)."""
    import gguf

    if quant not in QUANTS:
        raise InputError(f"unknown GGUF quant '{quant}': expected {', '.join(QUANTS)}", "--quant")
    config = _llama_config(model)
    tensors = gguf_tensors(model)
    tok = tokenizer_fields(tokenizer, config.vocab_size)
    path = Path(path)
    qtype = gguf.GGMLQuantizationType.Q8_0 if quant == "q8_0" else gguf.GGMLQuantizationType.F16
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_type("model")
    w.add_name(name or str(getattr(config, "_name_or_path", "") or "rankscope-export"))
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if quant == "q8_0" else gguf.LlamaFileType.MOSTLY_F16)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_vocab_size(config.vocab_size)
    w.add_context_length(config.max_position_embeddings)
    w.add_embedding_length(config.hidden_size)
    w.add_block_count(config.num_hidden_layers)
    w.add_feed_forward_length(config.intermediate_size)
    w.add_head_count(config.num_attention_heads)
    w.add_head_count_kv(config.num_key_value_heads)
    w.add_rope_dimension_count(config.head_dim)
    rope = getattr(config, "rope_parameters", None) or {}
    w.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))))
    w.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(tok["pre"])
    w.add_token_list(tok["tokens"])
    w.add_token_types(tok["types"])
    w.add_token_merges(tok["merges"])
    for key, add in (("bos", w.add_bos_token_id), ("eos", w.add_eos_token_id), ("unk", w.add_unk_token_id)):
        if tok["ids"][key] is not None:
            add(tok["ids"][key])
    if tok["ids"]["pad"] is not None:
        w.add_pad_token_id(tok["ids"]["pad"])
    w.add_add_bos_token(tok["add_bos"])
    w.add_add_space_prefix(False)
    if tok["chat_template"]:
        w.add_chat_template(tok["chat_template"])
    for tname, data in tensors.items():
        if data.ndim == 1:
            w.add_tensor(tname, data.astype(np.float32))
        elif qtype == gguf.GGMLQuantizationType.Q8_0 and data.shape[-1] % 32 == 0:
            w.add_tensor(tname, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
        else:
            w.add_tensor(tname, data.astype(np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


# --- parity ---------------------------------------------------------------------------------------


def load_gguf(path: str | Path, dtype: torch.dtype = torch.float32) -> tuple[nn.Module, Any]:
    """The GGUF model and tokenizer as transformers' own GGUF loader reads them (de-quantized)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rankscope.models.loading import gguf_alone, quiet_transformers

    with gguf_alone(Path(path)) as alone, quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(alone.parent, gguf_file=alone.name, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(alone.parent, gguf_file=alone.name)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return model.eval(), tokenizer


def _spearman(a: Sequence[float], b: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    rho = float(spearmanr(a, b).statistic)
    return 1.0 if math.isnan(rho) and list(a) == list(b) else rho


def _token_ids(scorer: Scorer, pairs: Sequence[Pair]) -> list[list[int]]:
    enc = scorer.encode(pairs)  # type: ignore[attr-defined]
    return enc[0] if isinstance(enc, tuple) else enc


def check_parity(
    reference: Scorer, path: str | Path, quant: str, pairs: Sequence[Pair] | None = None
) -> dict[str, Any]:
    """Score `pairs` with `reference` and with its scorer rebuilt over the GGUF file loaded back by
    transformers; raise GgufParityError beyond the quant's tolerance. Returns the parity figures."""
    from rankscope.scorers.registry import build_scorer

    name = getattr(reference, "name", "")
    if name not in PARITY_SCORERS:
        raise InputError(f"GGUF export checks {', '.join(PARITY_SCORERS)} scorers, not '{name}'", "--format")
    pairs = list(pairs) if pairs is not None else sample_pairs()
    model, tokenizer = load_gguf(path)
    copy = build_scorer(name, model, tokenizer)
    for attr in ("template", "prompt", "target"):  # the same prompt and token budgets as the reference
        if hasattr(reference, attr):
            ref_template = getattr(reference, attr)
            setattr(copy, attr, getattr(copy, attr).with_system(ref_template.system))
            getattr(copy, attr).max_tokens.update(ref_template.max_tokens)
    ours, theirs = reference.score(pairs), copy.score(pairs)
    same = sum(a == b for a, b in zip(_token_ids(reference, pairs), _token_ids(copy, pairs), strict=True))
    diff = max(abs(a - b) for a, b in zip(ours, theirs, strict=True))
    tol = TOLERANCE[quant]
    parity = {
        "file": str(path),
        "quant": quant,
        "scorer": name,
        "pairs": len(pairs),
        "max_abs_diff": diff,
        "spearman": _spearman(ours, theirs),
        "same_tokens": same / len(pairs),
        "tolerance": tol,
    }
    _check(parity, "transformers' GGUF loader", path)
    from rankscope import llamacpp

    if llamacpp.available():  # the optional extra: llama.cpp itself on the same file
        backend = llamacpp.LlamaCppScorer(path, reference)
        served = backend.score(pairs)
        backend.close()
        parity["llama_cpp"] = {
            "max_abs_diff": max(abs(a - b) for a, b in zip(ours, served, strict=True)),
            "spearman": _spearman(ours, served),
            "tolerance": LLAMA_CPP_TOLERANCE[quant],
        }
        _check(parity["llama_cpp"], "llama.cpp", path, len(pairs))
    return parity


def _check(figures: dict[str, Any], reader: str, path: str | Path, pairs: int | None = None) -> None:
    tol, diff = figures["tolerance"], figures["max_abs_diff"]
    if not (diff <= tol["max_abs_diff"] and figures["spearman"] >= tol["spearman"]):
        raise GgufParityError(
            f"GGUF scores read by {reader} differ from the torch model: max |diff| {diff:.3g} (allowed "
            f"{tol['max_abs_diff']}), Spearman {figures['spearman']:.4f} (needed {tol['spearman']}) "
            f"on {pairs or figures['pairs']} pairs",
            path,
        )


# --- exports --------------------------------------------------------------------------------------


def gguf_name(quant: str) -> str:
    """The GGUF file's name inside an exported folder."""
    return f"model-{quant}.gguf"


def add_gguf(folder: Path, model: nn.Module, scorer: Scorer, quant: str) -> dict[str, Any]:
    """Write FOLDER/model-QUANT.gguf from `model` and check it against `scorer` (over the same model);
    the parity figures go to FOLDER/gguf-parity.json and are returned."""
    from rankscope.io import write_json

    path = write_gguf(model, scorer.tokenizer, folder / gguf_name(quant), quant)  # type: ignore[attr-defined]
    parity = check_parity(scorer, path, quant)
    parity["file"] = path.name
    write_json(folder / PARITY_FILE, parity)
    return parity


def export_run_gguf(
    run_dir: str | Path,
    out: str | Path,
    quant: str = "f16",
    overwrite: bool = False,
    checkpoint: str | Path | None = None,
) -> tuple[Path, dict[str, Any]]:
    """`export` (the merged HF folder) plus OUT/model-QUANT.gguf and OUT/gguf-parity.json; nothing is
    left behind when the GGUF fails parity."""
    from rankscope.train.export import export
    from rankscope.trained import run_spec

    if quant not in QUANTS:
        raise InputError(f"unknown GGUF quant '{quant}': expected {', '.join(QUANTS)}", "--quant")
    spec = run_spec(run_dir)
    if spec.scorer not in PARITY_SCORERS:
        raise InputError(
            f"GGUF export carries the language model only: scorer '{spec.scorer}' is not one of "
            f"{', '.join(PARITY_SCORERS)}",
            "--format",
        )
    parity: dict[str, Any] = {}

    def extra(folder: Path, model: nn.Module, tokenizer: Any) -> None:
        from rankscope.methods.registry import spec_scorer

        ref = spec_scorer(spec, model, tokenizer)
        parity.update(add_gguf(folder, model, ref, quant))

    path = export(run_dir, out, overwrite, checkpoint=checkpoint, extra=extra)
    return path, parity


def export_model_gguf(
    model: str | Path,
    out: str | Path,
    quant: str = "f16",
    scorer: str = "yes-no",
    pairs: Sequence[Pair] | None = None,
) -> dict[str, Any]:
    """A plain model (alias, folder, Hub id) as one GGUF file at `out`, checked as export_run_gguf does."""
    from rankscope.io import atomic_file
    from rankscope.models.loading import load_backbone
    from rankscope.scorers.registry import build_scorer

    bb = load_backbone(model, kind="causal", dtype=torch.float32)
    ref = build_scorer(scorer, bb.model, bb.tokenizer)
    with atomic_file(out) as tmp:
        path = write_gguf(bb.model, bb.tokenizer, tmp, quant, name=str(model))
        parity = check_parity(ref, path, quant, pairs)
    parity["file"] = str(out)
    return parity
