"""The component vocabulary: one set of names for the projections of every supported architecture.

LoRA targets, freezing, ablation, gradient-norm grouping and plots all speak these names plus layer
indices. Fused projections (Phi-3 ``qkv_proj``, GPT-NeoX and Falcon ``query_key_value``, GPT-2 ``c_attn``,
ModernBERT ``Wqkv`` and ``Wi``, DeBERTa ``in_proj``) are one module covering several names; they resolve
once and report every name they fuse. Mixture-of-experts MLPs (Mixtral) have no one module per name and
are not mapped."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from torch import nn

from rankscope.errors import InputError

COMPONENTS: tuple[str, ...] = ("attn.q", "attn.k", "attn.v", "attn.o", "mlp.gate", "mlp.up", "mlp.down")
GROUPS: dict[str, tuple[str, ...]] = {
    "attn": ("attn.q", "attn.k", "attn.v", "attn.o"),
    "mlp": ("mlp.gate", "mlp.up", "mlp.down"),
    "all": COMPONENTS,
}

# Vocabulary name -> module path relative to one transformer block; None: the architecture lacks it.
ArchMap = dict[str, "str | None"]

_LLAMA_LIKE: ArchMap = {
    "attn.q": "self_attn.q_proj",
    "attn.k": "self_attn.k_proj",
    "attn.v": "self_attn.v_proj",
    "attn.o": "self_attn.o_proj",
    "mlp.gate": "mlp.gate_proj",
    "mlp.up": "mlp.up_proj",
    "mlp.down": "mlp.down_proj",
}
_GPT_NEOX: ArchMap = {
    "attn.q": "attention.query_key_value",
    "attn.k": "attention.query_key_value",
    "attn.v": "attention.query_key_value",
    "attn.o": "attention.dense",
    "mlp.gate": None,
    "mlp.up": "mlp.dense_h_to_4h",
    "mlp.down": "mlp.dense_4h_to_h",
}
_PHI3: ArchMap = {
    "attn.q": "self_attn.qkv_proj",
    "attn.k": "self_attn.qkv_proj",
    "attn.v": "self_attn.qkv_proj",
    "attn.o": "self_attn.o_proj",
    "mlp.gate": "mlp.gate_up_proj",
    "mlp.up": "mlp.gate_up_proj",
    "mlp.down": "mlp.down_proj",
}
# GPT-2 projections are transformers' Conv1D (weight stored transposed); PEFT handles them with
# fan_in_fan_out=True, which it sets itself with a warning.
_GPT2: ArchMap = {
    "attn.q": "attn.c_attn",
    "attn.k": "attn.c_attn",
    "attn.v": "attn.c_attn",
    "attn.o": "attn.c_proj",
    "mlp.gate": None,
    "mlp.up": "mlp.c_fc",
    "mlp.down": "mlp.c_proj",
}
_BERT_MLP: ArchMap = {"mlp.gate": None, "mlp.up": "intermediate.dense", "mlp.down": "output.dense"}
_BERT: ArchMap = {
    "attn.q": "attention.self.query",
    "attn.k": "attention.self.key",
    "attn.v": "attention.self.value",
    "attn.o": "attention.output.dense",
    **_BERT_MLP,
}

_OPT: ArchMap = {
    "attn.q": "self_attn.q_proj",
    "attn.k": "self_attn.k_proj",
    "attn.v": "self_attn.v_proj",
    "attn.o": "self_attn.out_proj",
    "mlp.gate": None,
    "mlp.up": "fc1",
    "mlp.down": "fc2",
}
_PHI: ArchMap = {**_OPT, "attn.o": "self_attn.dense", "mlp.up": "mlp.fc1", "mlp.down": "mlp.fc2"}
_STARCODER2: ArchMap = {**_LLAMA_LIKE, "mlp.gate": None, "mlp.up": "mlp.c_fc", "mlp.down": "mlp.c_proj"}
_FALCON: ArchMap = {
    **_GPT_NEOX,
    **dict.fromkeys(("attn.q", "attn.k", "attn.v"), "self_attention.query_key_value"),
    "attn.o": "self_attention.dense",
}
_DISTILBERT: ArchMap = {
    "attn.q": "attention.q_lin",
    "attn.k": "attention.k_lin",
    "attn.v": "attention.v_lin",
    "attn.o": "attention.out_lin",
    "mlp.gate": None,
    "mlp.up": "ffn.lin1",
    "mlp.down": "ffn.lin2",
}
# ModernBERT's Wi is a gated MLP's input and gate projections in one module (as Phi-3's gate_up_proj).
_MODERNBERT: ArchMap = {
    **dict.fromkeys(("attn.q", "attn.k", "attn.v"), "attn.Wqkv"),
    "attn.o": "attn.Wo",
    "mlp.gate": "mlp.Wi",
    "mlp.up": "mlp.Wi",
    "mlp.down": "mlp.Wo",
}
_DEBERTA_V2: ArchMap = {
    "attn.q": "attention.self.query_proj",
    "attn.k": "attention.self.key_proj",
    "attn.v": "attention.self.value_proj",
    "attn.o": "attention.output.dense",
    **_BERT_MLP,
}
_DEBERTA: ArchMap = {
    **dict.fromkeys(("attn.q", "attn.k", "attn.v"), "attention.self.in_proj"),
    "attn.o": "attention.output.dense",
    **_BERT_MLP,
}
_MPNET: ArchMap = {
    "attn.q": "attention.attn.q",
    "attn.k": "attention.attn.k",
    "attn.v": "attention.attn.v",
    "attn.o": "attention.attn.o",
    **_BERT_MLP,
}

ARCHITECTURES: dict[str, ArchMap] = {
    "llama": _LLAMA_LIKE,
    "mistral": _LLAMA_LIKE,
    "qwen2": _LLAMA_LIKE,
    "qwen3": _LLAMA_LIKE,
    "gemma": _LLAMA_LIKE,
    "gemma2": _LLAMA_LIKE,
    "gemma3": _LLAMA_LIKE,
    "gemma3_text": _LLAMA_LIKE,
    "gpt_neox": _GPT_NEOX,
    "phi3": _PHI3,
    "gpt2": _GPT2,
    "bert": _BERT,
    "opt": _OPT,
    "phi": _PHI,
    "starcoder2": _STARCODER2,
    "falcon": _FALCON,
    "distilbert": _DISTILBERT,
    "modernbert": _MODERNBERT,
    "deberta-v2": _DEBERTA_V2,
    "deberta": _DEBERTA,
    "mpnet": _MPNET,
}
# Tried in this order on layer 0 when the model_type is not listed above (a layout's whole set of paths
# must be found; none of these is a subset of another).
_PROBE_ORDER: tuple[ArchMap, ...] = (
    _LLAMA_LIKE,
    _PHI3,
    _GPT_NEOX,
    _GPT2,
    _BERT,
    _STARCODER2,
    _OPT,
    _PHI,
    _FALCON,
    _DISTILBERT,
    _MODERNBERT,
    _DEBERTA_V2,
    _DEBERTA,
    _MPNET,
)
_LAYER_LIST_NAMES = ("layers", "h", "layer")
_WRAPPER_PREFIXES = ("base_model.model.", "module.")  # PEFT, DDP/accelerate


@dataclass(frozen=True)
class ComponentRef:
    """One module of the vocabulary in one layer, as found in a concrete model."""

    layer: int
    component: str
    module_name: str
    module: nn.Module
    fused: tuple[str, ...]

    @property
    def label(self) -> str:
        """Name for plots and grouping: the component, or 'attn.q+attn.k+attn.v' for a fused module."""
        return fused_label(self.fused)


def fused_label(names: Sequence[str]) -> str:
    """Join the vocabulary names one module covers into one label."""
    return "+".join(names)


def _layer_list_with_name(model: nn.Module) -> tuple[str, nn.ModuleList]:
    best: tuple[str, nn.ModuleList] | None = None
    for name, module in model.named_modules():
        if not isinstance(module, nn.ModuleList) or len(module) == 0:
            continue
        parts = name.split(".")
        if parts[-1] not in _LAYER_LIST_NAMES or "vision" in name:
            continue
        if best is None or len(parts) < len(best[0].split(".")):
            best = (name, module)
    if best is None:
        raise InputError(f"cannot find the transformer layers of {type(model).__name__}")
    return best


def layer_list(model: nn.Module) -> nn.ModuleList:
    """The transformer blocks of `model`, also through a PEFT wrapper or a task-head wrapper."""
    return _layer_list_with_name(model)[1]


def config_layers(config: dict) -> int | None:
    """The number of transformer blocks a config.json (as a dict) declares, also nested in a multimodal
    config's text_config (Gemma-3); None when it names none."""
    for where in (config, config.get("text_config") or {}):
        for key in ("num_hidden_layers", "n_layer", "num_layers"):
            if isinstance(where.get(key), int) and where[key]:
                return int(where[key])
    return None


def num_layers(model: nn.Module) -> int:
    """Number of transformer blocks in `model`."""
    return len(layer_list(model))


def _model_type(model: nn.Module) -> str | None:
    config = getattr(model, "config", None)
    return getattr(config, "model_type", None)


def _get_submodule(block: nn.Module, path: str) -> nn.Module | None:
    try:
        return block.get_submodule(path)
    except AttributeError:
        return None


def arch_map(model: nn.Module) -> ArchMap:
    """The vocabulary map for `model`: by model_type, else the first known layout its blocks match."""
    model_type = _model_type(model)
    if model_type in ARCHITECTURES:
        return ARCHITECTURES[model_type]
    block = layer_list(model)[0]
    for candidate in _PROBE_ORDER:
        if all(_get_submodule(block, p) is not None for p in candidate.values() if p is not None):
            return candidate
    raise InputError(f"unsupported architecture '{model_type}': known are {', '.join(sorted(ARCHITECTURES))}")


def parse_layers(spec: str | int | Sequence[int] | None, n: int) -> list[int]:
    """Layer indices from '5-15', '0-9,20-29', '7', 'all' or None (all); sorted, unique, checked < n."""
    if spec is None:
        return list(range(n))
    if isinstance(spec, int):
        items: list[int] = [spec]
    elif isinstance(spec, str):
        text = spec.strip().lower()
        if text in ("", "all"):
            return list(range(n))
        items = []
        for token in text.split(","):
            token = token.strip()
            m = re.fullmatch(r"(\d+)\s*(?:-\s*(\d+))?", token)
            if m is None:
                raise InputError(f"bad layer spec '{spec}': expected e.g. '5-15', '0-9,20-29', '7' or 'all'")
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) is not None else lo
            if hi < lo:
                raise InputError(f"bad layer spec '{spec}': range {lo}-{hi} runs backwards")
            items.extend(range(lo, hi + 1))
    else:
        items = [int(i) for i in spec]
    bad = [i for i in items if i < 0 or i >= n]
    if bad:
        raise InputError(
            f"bad layer spec '{spec}': layer {bad[0]} is out of range for a model with {n} layers (0-{n - 1})"
        )
    return sorted(set(items))


def _split_names(names: str | Iterable[str] | None) -> list[str]:
    if names is None:
        return ["all"]
    if isinstance(names, str):
        names = [names]
    out: list[str] = []
    for item in names:
        out.extend(t for t in re.split(r"[,\s]+", item.strip()) if t)
    return out


def _expand_with_explicit(names: str | Iterable[str] | None) -> dict[str, bool]:
    """Ordered vocabulary names -> whether any was asked for by its own name (not through a group)."""
    explicit: dict[str, bool] = {}
    for name in _split_names(names):
        if name in GROUPS:
            for member in GROUPS[name]:
                explicit.setdefault(member, False)
        elif name in COMPONENTS:
            explicit[name] = True
        else:
            valid = ", ".join((*GROUPS, *COMPONENTS))
            raise InputError(f"unknown component '{name}': expected one of {valid}")
    return {c: explicit[c] for c in COMPONENTS if c in explicit}


def expand_components(names: str | Iterable[str] | None) -> list[str]:
    """Vocabulary names from names and groups ('attn', 'mlp', 'all'), in vocabulary order."""
    return list(_expand_with_explicit(names))


def check_named(model: nn.Module, components: str | Iterable[str] | None) -> dict[str, bool]:
    """`_expand_with_explicit(components)`, refusing a component the architecture lacks when it is asked
    for by its own name (through a group it is skipped)."""
    wanted = _expand_with_explicit(components)
    amap = arch_map(model)
    missing = [c for c, exp in wanted.items() if exp and amap.get(c) is None]
    if missing:
        raise InputError(
            f"component '{missing[0]}' does not exist in {_model_type(model) or type(model).__name__} models"
        )
    return wanted


def resolve(
    model: nn.Module,
    components: str | Iterable[str] | None = None,
    layers: str | int | Sequence[int] | None = None,
) -> list[ComponentRef]:
    """The modules for `components` in `layers` of `model` (layer-major, vocabulary order).

    A fused module appears once per layer, named after the first requested name it covers. A component
    the architecture lacks is skipped when asked through a group and an InputError when asked by name.
    """
    wanted = check_named(model, components)
    amap = arch_map(model)
    prefix, blocks = _layer_list_with_name(model)
    refs: list[ComponentRef] = []
    for layer in parse_layers(layers, len(blocks)):
        block = blocks[layer]
        seen: set[str] = set()
        for comp in wanted:
            path = amap.get(comp)
            if path is None or path in seen:
                continue
            seen.add(path)
            module = _get_submodule(block, path)
            if module is None:
                raise InputError(f"layer {layer} of {type(model).__name__} has no module '{path}' ({comp})")
            fused = tuple(c for c in COMPONENTS if amap.get(c) == path)
            refs.append(ComponentRef(layer, comp, f"{prefix}.{layer}.{path}", module, fused))
    return refs


def classify(module_name: str, model: nn.Module) -> tuple[int, str] | None:
    """(layer, label) for a module or parameter name of `model`, or None outside the vocabulary.

    Names with or without a PEFT wrapper prefix work, and PEFT sub-names (``lora_A.default.weight``,
    ``base_layer.weight``) map to the module they adapt. The label is a vocabulary name, or the
    '+'-joined names of a fused module (``attn.q+attn.k+attn.v``).
    """
    prefix, _ = _layer_list_with_name(model)
    return _classify(module_name, _strip_wrappers(prefix), _path_labels(arch_map(model)))


def classify_parameters(model: nn.Module) -> dict[str, tuple[int, str]]:
    """classify() for every named parameter of `model` that falls in the vocabulary."""
    prefix, _ = _layer_list_with_name(model)
    core, labels = _strip_wrappers(prefix), _path_labels(arch_map(model))
    out: dict[str, tuple[int, str]] = {}
    for name, _param in model.named_parameters():
        hit = _classify(name, core, labels)
        if hit is not None:
            out[name] = hit
    return out


def _strip_wrappers(name: str) -> str:
    stripped = True
    while stripped:
        stripped = False
        for wrapper in _WRAPPER_PREFIXES:
            if name.startswith(wrapper):
                name, stripped = name[len(wrapper) :], True
    return name


def _path_labels(amap: ArchMap) -> list[tuple[str, str]]:
    """(module path, label) pairs, longest path first so nested paths match before their parents."""
    paths = {p for p in amap.values() if p is not None}
    pairs = [(p, fused_label([c for c in COMPONENTS if amap.get(c) == p])) for p in paths]
    return sorted(pairs, key=lambda pl: -len(pl[0]))


def _classify(name: str, core_prefix: str, labels: list[tuple[str, str]]) -> tuple[int, str] | None:
    name = _strip_wrappers(name)
    if not name.startswith(core_prefix + "."):
        return None
    layer, _, rest = name[len(core_prefix) + 1 :].partition(".")
    if not layer.isdigit():
        return None
    for path, label in labels:
        if rest == path or rest.startswith(path + "."):
            return int(layer), label
    return None


def lora_target_names(
    model: nn.Module,
    components: str | Iterable[str] | None = None,
    layers: str | int | Sequence[int] | None = None,
) -> list[str]:
    """Full module names for ``peft.LoraConfig(target_modules=...)``, relative to the unwrapped model."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return [ref.module_name for ref in resolve(base, components, layers)]
