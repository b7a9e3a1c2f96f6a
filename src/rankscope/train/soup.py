"""`rankscope soup`: the weights of several fine-tunes of one model averaged into one reranker.

A model soup (Wortsman et al., 2022) averages the weights of runs fine-tuned from the same base model,
e.g. seeds of one recipe, or checkpoints of one run: one model that scores as fast as each ingredient,
usually steadier than any of them. The ingredients are run folders (their best checkpoint) or checkpoint
folders inside runs (RUN/checkpoints/checkpoint-N, RUN/adapter, RUN/best); they must share the base
model, scorer and method. The soup is a run folder: the first ingredient's spec.yaml, adapter/ with the
averaged trained weights (and head), and soup.json naming the ingredients and weights, so `rerank --run`,
`Reranker.from_run` and `export` load it as any run.

Full-weight runs (method freeze), trained heads and method modules (Q-PEFT's prompter) are averaged
tensor by tensor. LoRA adapters are refused: the mean of the A and B factors is not the mean of the
weight updates B @ A.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from rankscope.errors import InputError
from rankscope.io import atomic_dir
from rankscope.methods.registry import TRAINABLE_FILE
from rankscope.train.card import write_card
from rankscope.trained import HEAD_FILE, INFO_FILE, adapter_folder, run_spec

SOUP_FILE = "soup.json"
SHARED = ("model", "scorer", "method", "trust_remote_code")
"""Spec fields every ingredient must share: the same base model, scorer and trained parameters."""


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
    first = run_spec(parts[0].run).model_dump(mode="json")
    for part in parts[1:]:
        other = run_spec(part.run).model_dump(mode="json")
        for key in SHARED:
            if other[key] != first[key]:
                raise InputError(
                    f"'{key}' differs from {parts[0].run}'s ({other[key]!r} against {first[key]!r}): "
                    "a soup averages fine-tunes of one model, scorer and method",
                    part.run / "spec.yaml",
                )


def _tensors(folder: Path, name: str, required: bool) -> dict[str, torch.Tensor] | None:
    path = folder / name
    if not path.is_file():
        if required:
            raise InputError(f"no trained weights here ({name})", folder)
        return None
    return load_file(str(path))


def average(
    states: Sequence[dict[str, torch.Tensor]], weights: Sequence[float], where: Sequence[Path]
) -> dict[str, torch.Tensor]:
    """The weighted mean of same-keyed, same-shaped state dicts (in float32, stored in the first's
    dtypes); integer tensors must be equal in all of them."""
    first = states[0]
    total = float(sum(weights))
    out: dict[str, torch.Tensor] = {}
    for state, folder in zip(states[1:], where[1:], strict=True):
        if set(state) != set(first):
            odd = sorted(set(state) ^ set(first))[0]
            raise InputError(f"its trained tensors differ from {where[0]}'s ('{odd}')", folder)
    for key, ref in first.items():
        if not ref.is_floating_point():
            for state, folder in zip(states, where, strict=True):
                if not torch.equal(state[key], ref):
                    raise InputError(f"'{key}' is not a weight and differs between ingredients", folder)
            out[key] = ref.clone()
            continue
        acc = torch.zeros(ref.shape, dtype=torch.float32)
        for state, w, folder in zip(states, weights, where, strict=True):
            if state[key].shape != ref.shape:
                raise InputError(
                    f"'{key}' has shape {tuple(state[key].shape)}, not {tuple(ref.shape)}", folder
                )
            acc += state[key].float() * (w / total)
        out[key] = acc.to(ref.dtype).contiguous()
    return out


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
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise InputError("weights must be non-negative and not all zero", "--weight")
    parts = [ingredient(s, w) for s, w in zip(sources, weights or [1.0] * len(sources), strict=True)]
    for part in parts:
        if (part.folder / "adapter_config.json").is_file():
            raise InputError(
                "a LoRA adapter cannot be averaged as it is stored (the mean of the A and B factors is not "
                "the mean of the updates): soup full-weight runs (method freeze) or trained heads",
                part.folder,
            )
    _check_specs(parts)
    folders = [p.folder for p in parts]
    ws = [p.weight for p in parts]
    trained = average([_tensors(f, TRAINABLE_FILE, True) or {} for f in folders], ws, folders)
    heads = [_tensors(f, HEAD_FILE, False) for f in folders]
    if any(h is None for h in heads) and not all(h is None for h in heads):
        missing = folders[heads.index(None)]
        raise InputError(f"no {HEAD_FILE} here, where other ingredients have one", missing)
    out = Path(out)
    with atomic_dir(out, overwrite) as tmp:
        shutil.copyfile(parts[0].run / "spec.yaml", tmp / "spec.yaml")
        adapter = tmp / "adapter"
        adapter.mkdir()
        save_file(trained, str(adapter / TRAINABLE_FILE))
        if heads[0] is not None:
            save_file(average(heads, ws, folders), str(adapter / HEAD_FILE))  # type: ignore[arg-type]
        if (folders[0] / INFO_FILE).is_file():
            shutil.copyfile(folders[0] / INFO_FILE, adapter / INFO_FILE)
        recipe = {
            "ingredients": [
                {"run": str(p.run), "checkpoint": str(p.folder), "weight": p.weight} for p in parts
            ],
            "tensors": len(trained),
        }
        (tmp / SOUP_FILE).write_text(json.dumps(recipe, indent=2) + "\n")
        write_card(tmp, run_spec(tmp), command=command)
    return out
