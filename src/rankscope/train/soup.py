"""`rankscope soup`: the weights of several fine-tunes of one model averaged into one reranker.

A model soup (Wortsman et al., 2022) averages the weights of runs fine-tuned from the same base model,
e.g. seeds of one recipe, or checkpoints of one run: one model that scores as fast as each ingredient,
usually steadier than any of them. The ingredients are run folders (their best checkpoint) or checkpoint
folders inside runs (RUN/checkpoints/checkpoint-N, RUN/adapter, RUN/best); they must share the base
model, scorer and method. The soup is a run folder: the first ingredient's spec.yaml, adapter/ with the
averaged trained weights (and head), and soup.json naming the ingredients and weights, so `rerank --run`,
`Reranker.from_run` and `export` load it as any run.

Full-weight runs (method freeze), trained heads and method modules (Q-PEFT's prompter) are averaged
tensor by tensor. LoRA adapters are not: the mean of the A and B factors is not the mean of the weight
updates B @ A. Their soup is exact instead: one LoRA adapter of rank r x k whose A stacks the
ingredients' A and whose B stacks their B, each scaled by its weight and LoRA scaling, so that
B @ A = sum_i w_i * scaling_i * B_i @ A_i (the spec's rank and alpha say so: alpha = rank, scaling 1).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from safetensors.torch import save_file

from rankscope.errors import InputError
from rankscope.io import atomic_dir, check_apart, read_weights
from rankscope.methods.registry import PEFT_CONFIG, PEFT_WEIGHTS, TRAINABLE_FILE
from rankscope.train.card import write_card
from rankscope.trained import HEAD_FILE, INFO_FILE, SOUP_FILE, adapter_folder, run_spec

PLAIN_LORA = ("use_rslora", "use_dora", "rank_pattern", "alpha_pattern")
"""PEFT options whose adapters are not souped by stacking (their scaling is not alpha / r everywhere)."""
SHARED = ("model", "scorer", "method", "trust_remote_code", "system_prompt")
"""Spec fields every ingredient must share: the same base model, scorer, trained parameters and prompt
(the soup is scored with one prompt; token budgets may differ: it takes the first's, --max-doc-tokens
another)."""


@dataclass(frozen=True)
class Ingredient:
    run: Path
    folder: Path
    weight: float


def ingredient(source: str | Path, weight: float = 1.0) -> Ingredient:
    """A run folder (its best checkpoint, else its final adapter) or a checkpoint folder inside a run."""
    path = Path(source)
    if (path / "spec.yaml").is_file():
        return Ingredient(path, adapter_folder(path), weight)
    if path.is_dir():
        for parent in path.parents:
            if (parent / "spec.yaml").is_file():
                return Ingredient(parent, path, weight)
    raise InputError("neither a training run folder (spec.yaml) nor a checkpoint folder inside one", path)


def _check_specs(parts: Sequence[Ingredient]) -> None:
    first = run_spec(parts[0].run).dump()
    for part in parts[1:]:
        other = run_spec(part.run).dump()
        for key in SHARED:
            if other[key] != first[key]:
                raise InputError(
                    f"'{key}' differs from {parts[0].run}'s ({other[key]!r} against {first[key]!r}): "
                    "a soup averages fine-tunes of one model, scorer and method",
                    part.run / "spec.yaml",
                )


def _tensors(folder: Path, name: str) -> dict[str, torch.Tensor]:
    path = folder / name
    if not path.is_file():
        raise InputError(f"no trained weights here ({name})", folder)
    return read_weights(path)


def _check_alike(states: Sequence[dict[str, torch.Tensor]], where: Sequence[Path]) -> None:
    """Every state dict holds the first's tensors, of the first's shapes."""
    first = states[0]
    for state, folder in zip(states[1:], where[1:], strict=True):
        if set(state) != set(first):
            odd = sorted(set(state) ^ set(first))[0]
            raise InputError(f"its trained tensors differ from {where[0]}'s ('{odd}')", folder)
        for key, ref in first.items():
            if state[key].shape != ref.shape:
                raise InputError(
                    f"'{key}' has shape {tuple(state[key].shape)}, not {tuple(ref.shape)}", folder
                )


def average(
    states: Sequence[dict[str, torch.Tensor]], weights: Sequence[float], where: Sequence[Path]
) -> dict[str, torch.Tensor]:
    """The weighted mean of same-keyed, same-shaped state dicts (in float32, stored in the first's
    dtypes); integer tensors must be equal in all of them."""
    _check_alike(states, where)
    total = float(sum(weights))
    out: dict[str, torch.Tensor] = {}
    for key, ref in states[0].items():
        if not ref.is_floating_point():
            for state, folder in zip(states, where, strict=True):
                if not torch.equal(state[key], ref):
                    raise InputError(f"'{key}' is not a weight and differs between ingredients", folder)
            out[key] = ref.clone()
            continue
        acc = torch.zeros(ref.shape, dtype=torch.float32)
        for state, w in zip(states, weights, strict=True):
            acc += state[key].float() * (w / total)
        out[key] = acc.to(ref.dtype).contiguous()
    return out


def lora_soup(
    folders: Sequence[Path], weights: Sequence[float]
) -> tuple[dict[str, torch.Tensor], dict[str, object]]:
    """The exact soup of plain LoRA adapters: A stacked, B stacked and scaled by w_i * alpha_i / r_i,
    in an adapter of rank sum(r_i) with alpha = rank (scaling 1). Other saved modules are averaged."""
    configs = [json.loads((f / PEFT_CONFIG).read_text()) for f in folders]
    for folder, config in zip(folders, configs, strict=True):
        odd = [k for k in PLAIN_LORA if config.get(k)]
        if odd:
            raise InputError(f"only plain LoRA adapters are souped (this one sets {odd[0]})", folder)
    states = [_tensors(f, PEFT_WEIGHTS) for f in folders]
    _check_alike(states, folders)
    total = float(sum(weights))
    scale = [w / total * c["lora_alpha"] / c["r"] for w, c in zip(weights, configs, strict=True)]
    out: dict[str, torch.Tensor] = {}
    rest = {}
    for key, ref in states[0].items():
        if ".lora_A." in key:
            out[key] = torch.cat([s[key] for s in states], dim=0).contiguous()
        elif ".lora_B." in key:
            parts = [s[key].float() * c for s, c in zip(states, scale, strict=True)]
            out[key] = torch.cat(parts, dim=1).to(ref.dtype).contiguous()
        elif "lora_" in key:
            raise InputError(f"'{key}' is not a LoRA factor of a linear layer", folders[0])
        else:
            rest[key] = ref
    if rest:
        out.update(average([{k: s[k] for k in rest} for s in states], weights, folders))
    rank = sum(int(c["r"]) for c in configs)
    return out, {**configs[0], "r": rank, "lora_alpha": rank}


def soup(
    sources: Sequence[str | Path],
    out: str | Path,
    weights: Sequence[float] | None = None,
    overwrite: bool = False,
    command: str | None = None,
) -> Path:
    """Average the trained weights of `sources` (run or checkpoint folders; uniform unless `weights`)
    into a new run folder `out`, written whole or not at all. Returns `out`."""
    if len(sources) < 2:
        raise InputError("a soup needs at least two runs or checkpoints", "sources")
    if weights is not None:
        if len(weights) != len(sources):
            raise InputError(f"{len(weights)} weights for {len(sources)} ingredients", "--weight")
        if not all(math.isfinite(w) for w in weights):
            raise InputError(f"weights must be finite numbers, got {list(weights)}", "--weight")
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise InputError("weights must be non-negative and not all zero", "--weight")
    parts = [ingredient(s, w) for s, w in zip(sources, weights or [1.0] * len(sources), strict=True)]
    check_apart(out, [p.run for p in parts])  # --overwrite would delete an ingredient
    _check_specs(parts)
    folders = [p.folder for p in parts]
    ws = [p.weight for p in parts]
    lora = [(f / PEFT_CONFIG).is_file() for f in folders]
    if any(lora) and not all(lora):
        raise InputError("a LoRA adapter among full-weight ingredients", folders[lora.index(True)])
    config: dict[str, object] | None = None
    if all(lora):
        trained, config = lora_soup(folders, ws)
    else:
        trained = average([_tensors(f, TRAINABLE_FILE) for f in folders], ws, folders)
    heads = [_tensors(f, HEAD_FILE) if (f / HEAD_FILE).is_file() else None for f in folders]
    if any(h is None for h in heads) and not all(h is None for h in heads):
        missing = folders[heads.index(None)]
        raise InputError(f"no {HEAD_FILE} here, where other ingredients have one", missing)
    out = Path(out)
    with atomic_dir(out, overwrite) as tmp:
        spec = yaml.safe_load((parts[0].run / "spec.yaml").read_text())
        adapter = tmp / "adapter"
        adapter.mkdir()
        if config is None:
            save_file(trained, str(adapter / TRAINABLE_FILE))
        else:
            save_file(trained, str(adapter / PEFT_WEIGHTS))
            (adapter / PEFT_CONFIG).write_text(json.dumps(config, indent=2) + "\n")
            spec["method"].update(rank=config["r"], alpha=float(config["lora_alpha"]))
        (tmp / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        if heads[0] is not None:
            save_file(average(heads, ws, folders), str(adapter / HEAD_FILE))  # type: ignore[arg-type]
        if (folders[0] / INFO_FILE).is_file():
            shutil.copyfile(folders[0] / INFO_FILE, adapter / INFO_FILE)
        recipe = {
            "ingredients": [
                {"run": str(p.run), "checkpoint": str(p.folder), "weight": p.weight} for p in parts
            ],
            "tensors": len(trained),
            "lora_rank": None if config is None else config["r"],
        }
        (tmp / SOUP_FILE).write_text(json.dumps(recipe, indent=2) + "\n")
        write_card(tmp, run_spec(tmp), command=command)
    return out
