"""Weight deltas: the Frobenius norm of each LoRA adapter's scaled update (scaling * B @ A) per layer x
component, from a live PEFT model or from adapter folders, and across a run's checkpoints; for a
full-weight run (method freeze), ||W_trained - W_base||_F of its saved weights against the base model."""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from rankscope.errors import InputError
from rankscope.inspect.gradnorms import column_order
from rankscope.methods.registry import PEFT_CONFIG, PEFT_WEIGHTS
from rankscope.models.components import (
    ARCHITECTURES,
    COMPONENTS,
    classify,
    config_layers,
    fused_label,
    num_layers,
)

log = logging.getLogger("rankscope.inspect")
DELTAS_FILE = "deltas.npz"
_LAYER = re.compile(r"(?:^|\.)(?:layers|h|layer)\.(\d+)\.(.+)$")


@dataclass
class DeltaTable:
    """||scaling * B @ A||_F per (layer, component); several modules in one cell add in squares."""

    norms: np.ndarray
    """(layers, components) float32."""
    components: list[str]
    trained: np.ndarray
    """(layers, components) bool: cells that hold an adapter."""


@dataclass
class DeltaHistory:
    """Delta norms at each checkpoint, as saved in deltas.npz."""

    steps: np.ndarray
    """(K,) int64 training step of each checkpoint."""
    labels: list[str]
    """(K,) folder name of each checkpoint."""
    norms: np.ndarray
    """(K, layers, components) float32."""
    components: list[str]
    trained: np.ndarray
    kind: str = "lora"
    """"lora" (||scaling * B @ A||_F) or "full" (||W_trained - W_base||_F of full-weight training)."""


def lora_update_norm(a: torch.Tensor, b: torch.Tensor, scaling: float) -> float:
    """||scaling * B @ A||_F without forming B @ A: sqrt(sum((B^T B) * (A A^T))) over r x r matrices."""
    a64, b64 = a.detach().double().reshape(a.shape[0], -1), b.detach().double().reshape(b.shape[0], -1)
    gram = (b64.T @ b64) * (a64 @ a64.T)
    return abs(scaling) * math.sqrt(max(float(gram.sum()), 0.0))


def classify_name(module_name: str, model_type: str | None = None) -> tuple[int, str] | None:
    """(layer, label) for a module name alone (no model at hand), by the named or the first fitting map."""
    m = _LAYER.search(module_name)
    if m is None:
        return None
    layer, rest = int(m.group(1)), m.group(2)
    maps = [ARCHITECTURES[model_type]] if model_type in ARCHITECTURES else list(ARCHITECTURES.values())
    for amap in maps:
        paths = sorted({p for p in amap.values() if p is not None}, key=len, reverse=True)
        for path in paths:
            if rest == path or rest.startswith(path + "."):
                return layer, fused_label([c for c in COMPONENTS if amap.get(c) == path])
    return None


def _table(cells: dict[tuple[int, str], float], n_layers: int | None) -> DeltaTable:
    """Squared norms per (layer, label) -> a table; columns in vocabulary order."""
    comps = sorted({lab for _, lab in cells}, key=column_order)
    layers = n_layers if n_layers is not None else (max((ly for ly, _ in cells), default=-1) + 1)
    norms = np.zeros((layers, len(comps)), dtype=np.float64)
    trained = np.zeros((layers, len(comps)), dtype=bool)
    for (ly, lab), sq in cells.items():
        norms[ly, comps.index(lab)] += sq
        trained[ly, comps.index(lab)] = True
    return DeltaTable(np.sqrt(norms).astype(np.float32), comps, trained)


def lora_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every PEFT LoRA layer in `model`."""
    from peft.tuners.lora import LoraLayer

    return [(n, m) for n, m in model.named_modules() if isinstance(m, LoraLayer)]


def model_deltas(model: nn.Module, adapter: str | None = None) -> DeltaTable:
    """Delta norms of the LoRA layers of a live PEFT model (the active adapter, or `adapter`)."""
    cells: dict[tuple[int, str], float] = {}
    for name, module in lora_layers(model):
        names = [adapter] if adapter else list(getattr(module, "active_adapters", ["default"]))
        for a in names:
            if a not in module.lora_A:
                continue
            where = classify(name, model)
            if where is None:
                continue
            norm = lora_update_norm(module.lora_A[a].weight, module.lora_B[a].weight, module.scaling[a])
            cells[where] = cells.get(where, 0.0) + norm * norm
    if not cells:
        raise InputError("the model holds no LoRA adapters to measure")
    return _table(cells, num_layers(model))


def _pattern_value(patterns: dict[str, float], module_name: str, default: float) -> float:
    for key, value in patterns.items():
        if re.match(rf"(.*\.)?({key})$", module_name):
            return float(value)
    return default


def adapter_deltas(
    folder: str | Path, model: nn.Module | None = None, n_layers: int | None = None
) -> DeltaTable:
    """Delta norms of an adapter folder in PEFT's format; `model` (any of the same architecture, even on
    the meta device) names the components, else the names alone do."""
    folder = Path(folder)
    cfg_path, weights = folder / PEFT_CONFIG, folder / PEFT_WEIGHTS
    if not cfg_path.is_file() or not weights.is_file():
        raise InputError(
            "not a PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors)", folder
        )
    cfg = json.loads(cfg_path.read_text())
    state = load_file(str(weights))
    model_type = _base_model_type(cfg)
    cells: dict[tuple[int, str], float] = {}
    for key, a in state.items():
        if ".lora_A." not in key:
            continue
        module_name = key.split(".lora_A.")[0]
        b = state.get(key.replace(".lora_A.", ".lora_B."))
        if b is None:
            continue
        where = classify(module_name, model) if model is not None else classify_name(module_name, model_type)
        if where is None:
            continue
        rel = module_name.removeprefix("base_model.model.")
        r = a.shape[0]
        alpha = _pattern_value(cfg.get("alpha_pattern") or {}, rel, float(cfg.get("lora_alpha", r)))
        scaling = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
        norm = lora_update_norm(a, b, scaling)
        cells[where] = cells.get(where, 0.0) + norm * norm
    if not cells:
        raise InputError("the adapter holds no LoRA weights in the component vocabulary", folder)
    if n_layers is None and model is not None:
        n_layers = num_layers(model)
    return _table(cells, n_layers or config_layers(_base_config(cfg)))


def _base_config(cfg: dict) -> dict:
    base = cfg.get("base_model_name_or_path")
    path = Path(base) / "config.json" if base else None
    return json.loads(path.read_text()) if path is not None and path.is_file() else {}


def _base_model_type(cfg: dict) -> str | None:
    return _base_config(cfg).get("model_type")


def weight_deltas(folder: str | Path, base: nn.Module) -> DeltaTable:
    """||W_trained - W_base||_F per (layer, component) of a full-weight run's saved weights (a folder
    with trainable.safetensors) against the same-named parameters of `base`, the untrained model. Under
    Adam every element moves by about the same step, so the norm grows with sqrt(matrix size): compare
    layers of one component rather than components."""
    from rankscope.methods.registry import TRAINABLE_FILE

    weights = Path(folder) / TRAINABLE_FILE
    if not weights.is_file():
        raise InputError(f"no trained full weights here ({TRAINABLE_FILE})", folder)
    params = dict(base.named_parameters())
    cells: dict[tuple[int, str], float] = {}
    with safe_open(str(weights), "pt") as f:
        for key in f.keys():  # noqa: SIM118 (safe_open has no __iter__)
            where = classify(key, base)
            if where is None or key not in params:
                continue
            trained, start = f.get_tensor(key).double(), params[key].detach().cpu().double()
            if trained.shape != start.shape:
                raise InputError(
                    f"'{key}' has shape {tuple(trained.shape)}, the base {tuple(start.shape)}", folder
                )
            sq = float(((trained - start) ** 2).sum())
            cells[where] = cells.get(where, 0.0) + sq
    if not cells:
        raise InputError("the trained weights hold no layer in the component vocabulary", folder)
    return _table(cells, num_layers(base))


def checkpoint_folders(run_dir: str | Path, weights: str = PEFT_WEIGHTS) -> list[tuple[int, Path]]:
    """(step, folder) of each run_dir/checkpoints/checkpoint-N holding `weights` (a LoRA adapter by
    default; trainable.safetensors for full-weight runs), by step."""
    root = Path(run_dir) / "checkpoints"
    found = []
    for d in root.glob("checkpoint-*") if root.is_dir() else []:
        tail = d.name.split("-")[-1]
        if tail.isdigit() and (d / weights).is_file():
            found.append((int(tail), d))
    return sorted(found)


def run_deltas(run_dir: str | Path, model: nn.Module | None = None) -> DeltaHistory:
    """Delta norms at every checkpoint of a training run (checkpoints x layers x components)."""
    found = checkpoint_folders(run_dir)
    if not found:
        raise InputError("no LoRA checkpoints (checkpoints/checkpoint-N/adapter_model.safetensors)", run_dir)
    return history_of([(s, d.name, adapter_deltas(d, model)) for s, d in found])


def history_of(tables: list[tuple[int, str, DeltaTable]], kind: str = "lora") -> DeltaHistory:
    """Stack tables of one run into a history; cells missing from a table stay 0."""
    comps = sorted({c for _, _, t in tables for c in t.components}, key=column_order)
    layers = max(t.norms.shape[0] for _, _, t in tables)
    norms = np.zeros((len(tables), layers, len(comps)), dtype=np.float32)
    trained = np.zeros((layers, len(comps)), dtype=bool)
    for k, (_, _, t) in enumerate(tables):
        for j, c in enumerate(t.components):
            col = comps.index(c)
            norms[k, : t.norms.shape[0], col] = t.norms[:, j]
            trained[: t.norms.shape[0], col] |= t.trained[:, j]
    steps = np.array([s for s, _, _ in tables], dtype=np.int64)
    return DeltaHistory(steps, [lab for _, lab, _ in tables], norms, comps, trained, kind)


def save_deltas(history: DeltaHistory, path: str | Path) -> Path:
    """Write deltas.npz atomically (`atomic_file`: no half file after a kill, no copy after a failure)."""
    from rankscope.io import write_npz

    return write_npz(
        path,
        version=np.int64(1),
        steps=history.steps.astype(np.int64),
        labels=np.array(history.labels, dtype=str),
        norms=history.norms.astype(np.float32),
        components=np.array(history.components, dtype=str),
        trained=history.trained.astype(bool),
        kind=np.array(history.kind),
    )


def load_deltas(path: str | Path) -> DeltaHistory:
    with np.load(path, allow_pickle=False) as z:
        return DeltaHistory(
            z["steps"].astype(np.int64),
            [str(x) for x in z["labels"]],
            z["norms"].astype(np.float32),
            [str(x) for x in z["components"]],
            z["trained"].astype(bool),
            str(z["kind"]) if "kind" in z.files else "lora",
        )


class DeltaCallback(TrainerCallback):
    """Records the LoRA delta norms of the live model at every checkpoint (and the final state) into
    DIR/deltas.npz, so no checkpoint is missed when rotation deletes old ones (cheap: r x r products).
    On resume, rows after the resumed step are dropped (those checkpoints are redone). A model without
    LoRA records nothing."""

    def __init__(self, out_dir: str | Path, model: nn.Module) -> None:
        self.path = Path(out_dir) / DELTAS_FILE
        self.model = model
        self.rows: list[tuple[int, str, DeltaTable]] = []
        self.active = bool(lora_layers(model))

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        self.rows = []
        if not self.active or state.global_step == 0 or not self.path.is_file():
            return
        old = load_deltas(self.path)
        for k, step in enumerate(old.steps.tolist()):
            if step <= state.global_step:
                self.rows.append((step, old.labels[k], DeltaTable(old.norms[k], old.components, old.trained)))

    def record(self, step: int, label: str) -> None:
        if not self.active:
            return
        table = model_deltas(self.model)
        if not np.isfinite(table.norms).all():
            log.warning("non-finite LoRA weights at step %d: no delta row recorded", step)
            return
        self.rows = [r for r in self.rows if r[0] != step] + [(step, label, table)]
        save_deltas(history_of(sorted(self.rows, key=lambda r: r[0])), self.path)

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        if control.should_save:  # the state the checkpoint is about to hold, recorded before it is written
            self.record(state.global_step, f"checkpoint-{state.global_step}")

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        if self.active and state.global_step not in {r[0] for r in self.rows}:
            self.record(state.global_step, "final")
