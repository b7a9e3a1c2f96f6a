"""Training on the layouts mapped on 2026-12-06 (models/components.py), end to end on tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import transformers as T


@pytest.mark.parametrize("arch", ["opt", "distilbert", "modernbert", "deberta-v2", "deberta", "mpnet"])
def test_newly_mapped_layouts_train_lora_by_component_name(
    arch: str, tokenizer, make_spec, tmp_path: Path, invoke
) -> None:
    """OPT (a decoder, yes/no), DistilBERT, ModernBERT and DeBERTa-v2 (encoders, cross-encoder head: the
    usual reranker encoders) stopped with "unsupported architecture" at any component name; they train LoRA
    on the named components, whose gradient norms are recorded under those names."""
    import numpy as np

    from rankscope.inspect.gradnorms import GRADNORMS_FILE, load_gradnorms
    from rankscope.train.run import train

    torch.manual_seed(0)
    if arch == "opt":
        config = T.OPTConfig(
            vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4, ffn_dim=64,
            word_embed_proj_dim=32, max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
        )  # fmt: skip
        model, scorer = T.OPTForCausalLM(config), "yes-no"
    elif arch == "distilbert":
        config = T.DistilBertConfig(
            vocab_size=len(tokenizer), dim=32, n_layers=2, n_heads=4, hidden_dim=64,
            max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
        )  # fmt: skip
        model, scorer = T.DistilBertModel(config), "cross-encoder"
    else:
        sizes = dict(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
        sizes |= dict(intermediate_size=64, max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id)
        if arch == "modernbert":
            ids = {
                k: tokenizer.pad_token_id
                for k in ("bos_token_id", "eos_token_id", "cls_token_id", "sep_token_id")
            }
            model = T.ModernBertModel(T.ModernBertConfig(**sizes, **ids))
        else:
            classes = {
                "deberta-v2": (T.DebertaV2Config, T.DebertaV2Model),
                "deberta": (T.DebertaConfig, T.DebertaModel),
            }
            config_class, model_class = classes.get(arch, (T.MPNetConfig, T.MPNetModel))
            model = model_class(config_class(**sizes))
        scorer = "cross-encoder"
    folder = tmp_path / arch
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    method = {"name": "lora", "rank": 2, "alpha": 4, "targets": ["attn.o", "mlp.down"], "layers": "1"}
    run = tmp_path / "run"
    # DeBERTa v1 under bf16 autocast fails inside transformers (a float32 mask value into bf16 scores)
    optim = {"bf16": False} if arch == "deberta" else {}
    train(make_spec(model=str(folder), scorer=scorer, method=method, optim=optim), run)
    history = load_gradnorms(run / GRADNORMS_FILE)
    trained = {c for c, col in zip(history.components, history.trained.T, strict=True) if col.any()}
    assert {"attn.o", "mlp.down"} <= trained
    assert np.asarray(history.trained)[0].sum() == 0  # layer 0 has no adapter
    adapter = (run / "adapter" / "adapter_config.json").read_text()
    # inspection too: DeBERTa's attention returned no weights (it gives them only when asked)
    opts = ["--windows", "1", "--probe-pairs", "10", "--attention-pairs", "4", "--device", "cpu"]
    assert invoke("inspect", str(run), *opts, "--dtype", "float32") in (0, None)
    info = json.loads((run / "inspect" / "inspect.json").read_text())
    assert {"probes.json", "ablation.json", "attention.json"} <= {
        p.name for p in (run / "inspect").iterdir()
    }, info
    want = {
        "opt": ("out_proj", "fc2"),
        "distilbert": ("out_lin", "lin2"),
        "modernbert": ("attn.Wo", "mlp.Wo"),
        "deberta-v2": ("attention.output.dense", "1.output.dense"),
        "deberta": ("attention.output.dense", "1.output.dense"),
        "mpnet": ("attention.attn.o", "1.output.dense"),
    }[arch]
    assert all(name in adapter for name in want)
