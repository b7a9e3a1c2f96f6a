"""Architectures beyond Llama, as tiny random-weight models: loading without sdpa where an architecture
lacks it, the model's own logit post-processing in the scorers, BERT-style masked LMs taken as encoders,
a decoder stack found where base_model_prefix misleads, and a multimodal config's nested sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import transformers as T

from rankscope.errors import InputError
from rankscope.scorers.base import Pair
from rankscope.testing import TINY_DECODER

COMMON = {**TINY_DECODER, "num_hidden_layers": 2, "max_position_embeddings": 256}


def test_an_architecture_without_sdpa_loads(tokenizer, tmp_path: Path) -> None:
    """Gemma2 (in the component map) raised transformers' ValueError about sdpa: no rerank, no training."""
    from rankscope.models.loading import load_backbone

    torch.manual_seed(0)
    config = T.Gemma2Config(vocab_size=len(tokenizer), head_dim=8, sliding_window=16, **COMMON)
    T.Gemma2ForCausalLM(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    bb = load_backbone(tmp_path, kind="causal")
    assert type(bb.model).__name__ == "Gemma2ForCausalLM"


@pytest.mark.parametrize("arch", ["granite", "cohere"])
def test_scores_use_the_models_own_logit_scaling(tokenizer, arch: str) -> None:
    """Granite divides its logits by logits_scaling and Cohere multiplies by logit_scale: the scorers
    left both out, so their probabilities (and rankings) were not the model's."""
    from rankscope.scorers.decoder import QueryLikelihoodScorer

    torch.manual_seed(0)
    if arch == "granite":
        model = T.GraniteForCausalLM(
            T.GraniteConfig(vocab_size=len(tokenizer), logits_scaling=16.0, **COMMON)
        )
    else:
        model = T.CohereForCausalLM(T.CohereConfig(vocab_size=len(tokenizer), logit_scale=0.0625, **COMMON))
    model.eval()
    scorer = QueryLikelihoodScorer(model, tokenizer)
    pairs = [Pair("how long does a flea live", "the flea life cycle lasts up to a year")]
    (seq,), ((start, end),) = scorer.encode(pairs)
    with torch.no_grad():
        logits = model(torch.tensor([seq])).logits[0].float()
    want = torch.log_softmax(logits[start - 1 : end - 1], -1).gather(1, torch.tensor(seq[start:end])[:, None])
    assert scorer.score(pairs)[0] == pytest.approx(float(want.mean()), abs=1e-4)


def test_bert_style_masked_lms_are_encoders() -> None:
    """camembert, ernie, data2vec-text, ... are also in transformers' causal-LM mapping, and were loaded as
    decoders (bi-encoders refused, yes/no scores on a bidirectional model)."""
    from rankscope.models.loading import is_encoder_config

    for config in (T.CamembertConfig(), T.ErnieConfig(), T.Data2VecTextConfig(), T.BertConfig()):
        assert is_encoder_config(config), config.model_type
    assert not is_encoder_config(T.CamembertConfig(is_decoder=True))
    assert not any(is_encoder_config(c) for c in (T.LlamaConfig(), T.GPT2Config(), T.BartConfig()))


def test_the_decoder_stack_where_base_model_prefix_misleads(tokenizer) -> None:
    """Llama4ForCausalLM names base_model_prefix 'language_model' and keeps its stack in .model."""
    from rankscope.scorers.base import decoder_body

    config = T.Llama4TextConfig(vocab_size=len(tokenizer), head_dim=8, num_local_experts=2, **COMMON)
    model = T.Llama4ForCausalLM(config)
    assert decoder_body(model) is model.model
    with pytest.raises(InputError, match="cannot find the transformer stack"):
        decoder_body(torch.nn.Linear(2, 2))


def test_nested_text_config_sizes() -> None:
    from rankscope.models.components import config_layers
    from rankscope.models.loading import hidden_size

    assert config_layers({"text_config": {"num_hidden_layers": 18}, "vision_config": {}}) == 18
    model = torch.nn.Module()
    model.config = T.Gemma3Config(text_config={"hidden_size": 48, "num_hidden_layers": 2})  # no top-level one
    assert hidden_size(model) == 48


def test_freeze_refuses_a_component_the_model_lacks_by_name() -> None:
    """GPT-2 has no mlp.gate: LoRA refused it, freeze trained the rest silently."""
    from rankscope.methods.freeze import unfreeze

    model = T.GPT2LMHeadModel(T.GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=100))
    with pytest.raises(InputError, match="component 'mlp.gate' does not exist in gpt2 models"):
        unfreeze(model, ["mlp.gate", "attn.q"], "all")
    assert unfreeze(model, ["mlp", "attn"], "all") > 0  # through a group a missing member is skipped
    config = T.Qwen2MoeConfig(vocab_size=100, num_experts=2, mlp_only_layers=[0], **COMMON)
    moe = T.Qwen2MoeForCausalLM(config)  # a dense first layer, experts after it: groups still train
    assert unfreeze(moe, ["attn", "mlp"], "all") > unfreeze(moe, ["attn"], "all") > 0


def test_logit_scaling_follows_the_model_type_not_the_config_field(tokenizer) -> None:
    """HyperCLOVAX multiplies by logits_scaling where Granite divides, and MPT never applies the logit_scale
    its config carries: a rule keyed on the field alone got both wrong."""
    from transformers import AutoConfig, AutoModelForCausalLM

    from rankscope.scorers.base import decoder_body, head_logits, last_token_hidden

    for kind, extra in (("hyperclovax", {"logits_scaling": 4.0}), ("mpt", {"logit_scale": 0.5})):
        config = AutoConfig.for_model(kind)
        for k, v in {**COMMON, "vocab_size": 128, **extra}.items():
            setattr(config, k, v)
        if kind == "mpt":
            config.d_model, config.n_heads, config.n_layers = 32, 4, 2
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config).eval()
        ids = torch.tensor([[5, 9, 17, 33]])
        mask = torch.ones_like(ids)
        with torch.no_grad():
            want = model(input_ids=ids, attention_mask=mask).logits[0, -1, [10, 20, 30]]
            got = head_logits(model, last_token_hidden(decoder_body(model), ids, mask), [10, 20, 30])[0]
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
