"""The component vocabulary on tiny random-weight models of every supported architecture."""

from __future__ import annotations

import pytest
import torch
import transformers as T
from peft import LoraConfig, get_peft_model
from torch import nn

from rankscope.errors import InputError
from rankscope.models.components import (
    COMPONENTS,
    classify,
    classify_parameters,
    expand_components,
    layer_list,
    lora_target_names,
    num_layers,
    parse_layers,
    resolve,
)

pytestmark = pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")

LAYERS = 3
_COMMON = dict(
    num_hidden_layers=LAYERS,
    hidden_size=32,
    num_attention_heads=4,
    intermediate_size=64,
    vocab_size=100,
    max_position_embeddings=64,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
)
_KV = dict(num_key_value_heads=2)

# model_type -> (config factory, model class, vocabulary names the architecture lacks, fused groups)
QKV = ("attn.q", "attn.k", "attn.v")
ARCHS = {
    "llama": (lambda: T.LlamaConfig(**_COMMON, **_KV), T.LlamaForCausalLM, (), ()),
    "mistral": (lambda: T.MistralConfig(**_COMMON, **_KV), T.MistralForCausalLM, (), ()),
    "qwen2": (lambda: T.Qwen2Config(**_COMMON, **_KV), T.Qwen2ForCausalLM, (), ()),
    "qwen3": (lambda: T.Qwen3Config(**_COMMON, **_KV, head_dim=8), T.Qwen3ForCausalLM, (), ()),
    "gemma3_text": (lambda: T.Gemma3TextConfig(**_COMMON, **_KV, head_dim=8), T.Gemma3ForCausalLM, (), ()),
    "gpt_neox": (lambda: T.GPTNeoXConfig(**_COMMON), T.GPTNeoXForCausalLM, ("mlp.gate",), (QKV,)),
    "phi3": (
        lambda: T.Phi3Config(**_COMMON, **_KV),
        T.Phi3ForCausalLM,
        (),
        (QKV, ("mlp.gate", "mlp.up")),
    ),
    "gpt2": (
        lambda: T.GPT2Config(n_layer=LAYERS, n_embd=32, n_head=4, vocab_size=100, n_positions=64),
        T.GPT2LMHeadModel,
        ("mlp.gate",),
        (QKV,),
    ),
    "bert": (
        lambda: T.BertConfig(
            **{k: v for k, v in _COMMON.items() if k not in ("bos_token_id", "eos_token_id")}
        ),
        T.BertModel,
        ("mlp.gate",),
        (),
    ),
}
_ENC = {k: v for k, v in _COMMON.items() if k not in ("bos_token_id", "eos_token_id")}
GATE_UP = ("mlp.gate", "mlp.up")
# Layouts mapped on 2026-12-06 (they stopped with "unsupported architecture" before)
ARCHS |= {
    "opt": (
        lambda: T.OPTConfig(**_COMMON, ffn_dim=64, word_embed_proj_dim=32),
        T.OPTForCausalLM,
        ("mlp.gate",),
        (),
    ),
    "phi": (lambda: T.PhiConfig(**_COMMON), T.PhiForCausalLM, ("mlp.gate",), ()),
    "starcoder2": (lambda: T.Starcoder2Config(**_COMMON, **_KV), T.Starcoder2ForCausalLM, ("mlp.gate",), ()),
    "falcon": (lambda: T.FalconConfig(**_COMMON), T.FalconForCausalLM, ("mlp.gate",), (QKV,)),
    "distilbert": (
        lambda: T.DistilBertConfig(
            n_layers=LAYERS, dim=32, n_heads=4, hidden_dim=64, vocab_size=100, max_position_embeddings=64
        ),
        T.DistilBertModel,
        ("mlp.gate",),
        (),
    ),
    "modernbert": (
        lambda: T.ModernBertConfig(**_ENC, bos_token_id=1, eos_token_id=2, cls_token_id=1, sep_token_id=2),
        T.ModernBertModel,
        (),
        (QKV, GATE_UP),
    ),
    "deberta-v2": (lambda: T.DebertaV2Config(**_ENC), T.DebertaV2Model, ("mlp.gate",), ()),
    "deberta": (lambda: T.DebertaConfig(**_ENC), T.DebertaModel, ("mlp.gate",), (QKV,)),
    "mpnet": (lambda: T.MPNetConfig(**_ENC), T.MPNetModel, ("mlp.gate",), ()),
}


def build(arch: str) -> nn.Module:
    torch.manual_seed(0)
    make_config, cls, _, _ = ARCHS[arch]
    return cls(make_config()).eval()


@pytest.fixture(scope="module", params=sorted(ARCHS))
def arch_model(request: pytest.FixtureRequest) -> tuple[str, nn.Module]:
    return request.param, build(request.param)


def test_config_model_types_match_table() -> None:
    for arch, (make_config, _, _, _) in ARCHS.items():
        assert make_config().model_type == arch


def test_every_name_resolves_in_every_layer(arch_model: tuple[str, nn.Module]) -> None:
    arch, model = arch_model
    _, _, absent, fused_groups = ARCHS[arch]
    modules = dict(model.named_modules())
    assert num_layers(model) == LAYERS
    refs = resolve(model, "all")
    covered: dict[int, list[str]] = {i: [] for i in range(LAYERS)}
    for ref in refs:
        assert modules[ref.module_name] is ref.module
        assert ref.component in ref.fused
        assert sum(p.numel() for p in ref.module.parameters()) > 0
        covered[ref.layer].extend(ref.fused)
    expected = [c for c in COMPONENTS if c not in absent]
    for layer in range(LAYERS):
        assert sorted(covered[layer]) == sorted(expected)
    fused = {ref.fused for ref in refs if len(ref.fused) > 1}
    assert fused == set(fused_groups)
    # Each module appears once per layer, also for fused projections.
    assert (
        len({r.module_name for r in refs})
        == len(refs)
        == LAYERS * (len(expected) - sum(len(g) - 1 for g in fused_groups))
    )


def test_absent_component_skipped_in_group_error_by_name(arch_model: tuple[str, nn.Module]) -> None:
    arch, model = arch_model
    _, _, absent, _ = ARCHS[arch]
    for name in absent:
        assert all(name not in r.fused for r in resolve(model, "mlp"))
        with pytest.raises(InputError, match=name):
            resolve(model, [name])


def test_fused_name_resolves_to_fused_module(arch_model: tuple[str, nn.Module]) -> None:
    arch, model = arch_model
    for group in ARCHS[arch][3]:
        for name in group:
            refs = resolve(model, name, layers="1")
            assert len(refs) == 1
            assert refs[0].component == name and refs[0].fused == group
            assert refs[0].label == "+".join(group)
    # Asking for all names a fused module covers still yields it once.
    assert len(resolve(model, ["attn.q", "attn.k", "attn.v"], layers=[0])) == (1 if ARCHS[arch][3] else 3)


def test_classify_round_trips_named_parameters(arch_model: tuple[str, nn.Module]) -> None:
    _, model = arch_model
    by_module = {ref.module_name: (ref.layer, ref.label) for ref in resolve(model, "all")}
    hits = classify_parameters(model)
    for name, _ in model.named_parameters():
        module_name = name.rsplit(".", 1)[0]
        assert classify(name, model) == by_module.get(module_name)
        assert hits.get(name) == by_module.get(module_name)
    for module_name, expected in by_module.items():
        assert classify(module_name, model) == expected
    assert classify("lm_head.weight", model) is None


def test_layer_list_through_task_head_wrapper() -> None:
    model = T.LlamaForSequenceClassification(ARCHS["llama"][0]()).eval()
    assert num_layers(model) == LAYERS
    assert layer_list(model) is model.model.layers
    assert resolve(model, "attn.o", "2")[0].module_name == "model.layers.2.self_attn.o_proj"
    bert = T.BertForSequenceClassification(ARCHS["bert"][0]())
    assert resolve(bert, "mlp.down", "0")[0].module_name == "bert.encoder.layer.0.output.dense"
    assert classify("bert.encoder.layer.1.attention.output.dense.bias", bert) == (1, "attn.o")


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_lora_targets_with_peft(arch: str) -> None:
    model = build(arch)
    targets = lora_target_names(model, ["attn", "mlp.down"], "1-2")
    assert all(".0." not in t for t in targets)
    config = LoraConfig(r=2, lora_alpha=4, target_modules=targets, fan_in_fan_out=arch == "gpt2")
    peft_model = get_peft_model(model, config)
    lora_params = [n for n, p in peft_model.named_parameters() if "lora_" in n]
    assert lora_params and all(p.requires_grad for n, p in peft_model.named_parameters() if "lora_" in n)
    adapted = {n.split(".lora_")[0] for n in lora_params}
    assert adapted == {f"base_model.model.{t}" for t in targets}
    # Names of the wrapped model classify to the module they adapt, wrapped or not.
    expected = {
        ref.module_name: (ref.layer, ref.label) for ref in resolve(build(arch), ["attn", "mlp.down"], "1-2")
    }
    for name in lora_params:
        module_name = name.split(".lora_")[0].removeprefix("base_model.model.")
        assert classify(name, peft_model) == expected[module_name]
        assert classify(name, model) == expected[module_name]
    assert classify_parameters(peft_model)
    # Resolving on the wrapped model gives full names inside it; lora targets stay unwrapped.
    wrapped = resolve(peft_model, "attn.o", "1")[0]
    assert wrapped.module_name.startswith("base_model.model.")
    assert lora_target_names(peft_model, ["attn", "mlp.down"], "1-2") == targets


def test_lora_llama_example_name() -> None:
    peft_model = get_peft_model(
        build("llama"), LoraConfig(r=2, target_modules=lora_target_names(build("llama")))
    )
    name = "base_model.model.model.layers.2.self_attn.q_proj.lora_A.default.weight"
    assert name in dict(peft_model.named_parameters())
    assert classify(name, peft_model) == (2, "attn.q")
    assert classify("base_model.model.model.layers.2.self_attn.q_proj.base_layer.weight", peft_model) == (
        2,
        "attn.q",
    )
    assert classify("base_model.model.model.layers.2.input_layernorm.weight", peft_model) is None
    assert classify("base_model.model.model.embed_tokens.weight", peft_model) is None


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, list(range(30))),
        ("all", list(range(30))),
        ("5-15", list(range(5, 16))),
        ("0-9,20-29", [*range(10), *range(20, 30)]),
        ("7", [7]),
        (" 3 , 1-2 ,3", [1, 2, 3]),
        (4, [4]),
        ([9, 2, 2], [2, 9]),
    ],
)
def test_parse_layers(spec: object, expected: list[int]) -> None:
    assert parse_layers(spec, 30) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", ["30", "25-31", "5-3", "x", "1-", "-1", "1..3"])
def test_parse_layers_errors(spec: str) -> None:
    with pytest.raises(InputError, match=f"'{spec}'"):
        parse_layers(spec, 30)


def test_expand_components() -> None:
    assert expand_components("attn") == ["attn.q", "attn.k", "attn.v", "attn.o"]
    assert expand_components(["mlp.down", "attn.q"]) == ["attn.q", "mlp.down"]
    assert expand_components("all") == list(COMPONENTS)
    assert expand_components(None) == list(COMPONENTS)
    assert expand_components("attn.v,mlp") == ["attn.v", "mlp.gate", "mlp.up", "mlp.down"]
    with pytest.raises(InputError, match=r"unknown component 'attn\.x'.*attn\.q"):
        expand_components(["attn.x"])


def test_resolve_checks_layers() -> None:
    with pytest.raises(InputError, match="out of range"):
        resolve(build("llama"), "attn.q", "3")
