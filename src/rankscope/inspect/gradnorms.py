"""Gradient norms per layer x component at every optimizer step, as a Trainer callback or a plain function.

What is measured: the L2 norm of the gradients of every trainable tensor, grouped by (layer, component)
through the component vocabulary (LoRA A and B of a module count together, as do full weights and
biases); trainable tensors outside the vocabulary but inside a block go to the column "other", and
tensors outside the blocks (heads, embeddings, soft-prompt modules) to named `extra` groups.

When: `on_pre_optimizer_step`, i.e. after gradient accumulation and after clipping, so the numbers are
the gradients the optimizer applies. Clipping multiplies every gradient by one factor, so shares across
layers and components are the same as before clipping; the pre-clip total is the `grad_norm` column of
loss.jsonl.

Cost: the per-tensor norms are computed by one fused `torch._foreach_norm`, squared and summed into
groups by one `index_add_` with indices built once at train begin; the group vectors stay on the device
and are copied to the host together every `flush_every` steps (one device sync per flush, never one
per tensor; `flush_every=1` gives exactly one per step).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from rankscope.errors import InputError
from rankscope.models.components import COMPONENTS, classify_parameters, layer_list

log = logging.getLogger("rankscope.inspect")

GRADNORMS_FILE = "gradnorms.npz"
OTHER = "other"
_MAX_EXTRA = 12


def column_order(label: str) -> tuple[int, str]:
    """Vocabulary order; a fused label sorts at its first member; "other" last."""
    first = label.split("+")[0]
    return (COMPONENTS.index(first) if first in COMPONENTS else len(COMPONENTS), label)


def extra_group(name: str) -> str:
    """A short name for a parameter outside the blocks: wrappers and PEFT bits dropped, two path parts."""
    path = name.rsplit(".", 1)[0]
    path = re.sub(r"(^|\.)base_model\.model\.", r"\1", path)
    path = path.removeprefix("module.")
    path = re.sub(r"\.(modules_to_save|original_module)\.[^.]+", "", path)
    while path.startswith("model."):
        path = path[len("model.") :]
    return ".".join(path.split(".")[:2]) or name


@dataclass
class GradGroups:
    """Each trainable parameter's slot in a flat vector: layer * C + column, then the extra groups."""

    params: list[nn.Parameter]
    slots: list[int]
    n_layers: int
    components: list[str]
    extra_names: list[str]
    trained: np.ndarray
    """(layers, components) bool: which groups hold any trainable tensor."""
    _index: dict[tuple[bool, ...], torch.Tensor]
    """slot indices on the device, per pattern of which parameters have a gradient (built once each)."""

    @classmethod
    def build(cls, model: nn.Module) -> GradGroups:
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        try:
            where = classify_parameters(model)
            blocks = layer_list(model)
        except InputError:
            where, blocks = {}, nn.ModuleList()
        block_of = {id(p): i for i, b in enumerate(blocks) for p in b.parameters()}
        labels: dict[str, tuple[int, str] | None] = {}
        extra: dict[str, str] = {}
        for n, p in named:
            if n in where:
                labels[n] = where[n]
            elif id(p) in block_of:
                labels[n] = (block_of[id(p)], OTHER)
            else:
                labels[n] = None
                extra[n] = extra_group(n)
        cols = sorted({lab[1] for lab in labels.values() if lab is not None}, key=column_order)
        extra_names = sorted(set(extra.values()))
        if len(extra_names) > _MAX_EXTRA:
            extra = dict.fromkeys(extra, OTHER)
            extra_names = [OTHER]
        n_layers, width = len(blocks), len(cols)
        trained = np.zeros((n_layers, width), dtype=bool)
        slots = []
        for n, _ in named:
            lab = labels[n]
            if lab is None:
                slots.append(n_layers * width + extra_names.index(extra[n]))
            else:
                trained[lab[0], cols.index(lab[1])] = True
                slots.append(lab[0] * width + cols.index(lab[1]))
        return cls([p for _, p in named], slots, n_layers, cols, extra_names, trained, {})

    @property
    def size(self) -> int:
        return self.n_layers * len(self.components) + len(self.extra_names)

    def squared(self) -> torch.Tensor | None:
        """Summed squared gradient norms per slot, float32, on the parameters' device (no host sync)."""
        present = tuple(p.grad is not None for p in self.params)
        grads = [p.grad for p in self.params if p.grad is not None]
        if not grads:
            return None
        try:
            norms = torch._foreach_norm(grads, 2, dtype=torch.float32)
        except (TypeError, RuntimeError):
            norms = [n.float() for n in torch._foreach_norm(grads, 2)]
        device = norms[0].device
        vec = torch.stack([n.to(device) for n in norms])
        index = self._index.get(present)
        if index is None or index.device != device:
            slots = [s for s, has in zip(self.slots, present, strict=True) if has]
            index = self._index[present] = torch.tensor(slots, device=device)
        return torch.zeros(self.size, device=device, dtype=torch.float32).index_add_(0, index, vec * vec)

    def split(self, squared: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(..., slots) squared sums -> norms (..., layers, components) and extra norms (..., extra)."""
        cut = self.n_layers * len(self.components)
        lead = squared.shape[:-1]
        norms = np.sqrt(squared[..., :cut]).reshape(*lead, self.n_layers, len(self.components))
        return norms.astype(np.float32), np.sqrt(squared[..., cut:]).astype(np.float32)


@dataclass
class GradNormTable:
    """Gradient norms of one moment: (layers, components) plus the groups outside the blocks."""

    norms: np.ndarray
    components: list[str]
    extra: dict[str, float]
    trained: np.ndarray

    @property
    def total(self) -> float:
        """The global L2 norm over every trainable tensor (as torch.nn.utils.get_total_norm)."""
        return float(
            np.sqrt((self.norms.astype(np.float64) ** 2).sum() + sum(v * v for v in self.extra.values()))
        )

    @property
    def layer_norms(self) -> np.ndarray:
        return np.sqrt((self.norms.astype(np.float64) ** 2).sum(axis=1))


def grad_norms(model: nn.Module, groups: GradGroups | None = None) -> GradNormTable:
    """The current `.grad` norms of `model`'s trainable tensors, grouped by layer x component."""
    groups = groups or GradGroups.build(model)
    sq = groups.squared()
    flat = np.zeros(groups.size, dtype=np.float64) if sq is None else sq.double().cpu().numpy()
    norms, extra = groups.split(flat)
    return GradNormTable(
        norms, groups.components, dict(zip(groups.extra_names, extra.tolist(), strict=True)), groups.trained
    )


@dataclass
class GradNormHistory:
    """Per-step gradient norms as saved in gradnorms.npz."""

    steps: np.ndarray
    """(S,) int64 optimizer step (1-based, the step loss.jsonl names)."""
    norms: np.ndarray
    """(S, layers, components) float32."""
    components: list[str]
    trained: np.ndarray
    """(layers, components) bool."""
    extra: np.ndarray
    """(S, E) float32: norms of groups outside the blocks."""
    extra_names: list[str]
    max_grad_norm: float = 0.0
    """The clipping threshold the norms were recorded under (0: no clipping)."""

    @property
    def n_layers(self) -> int:
        return int(self.norms.shape[1])

    def finite(self) -> tuple[GradNormHistory, np.ndarray]:
        """The history without its steps whose norms are not finite (a diverged step), and those steps."""
        ok = np.isfinite(self.norms).all(axis=(1, 2)) & np.isfinite(self.extra).all(axis=1)
        if ok.all():
            return self, self.steps[:0]
        kept = dataclasses.replace(self, steps=self.steps[ok], norms=self.norms[ok], extra=self.extra[ok])
        return kept, self.steps[~ok]

    @property
    def layer_norms(self) -> np.ndarray:
        """(S, layers): the norm over all components of each layer."""
        return np.sqrt((self.norms.astype(np.float64) ** 2).sum(axis=2))

    @property
    def total(self) -> np.ndarray:
        """(S,) the global norm per step."""
        sq = (self.norms.astype(np.float64) ** 2).sum(axis=(1, 2)) + (self.extra.astype(np.float64) ** 2).sum(
            1
        )
        return np.sqrt(sq)

    def upto(self, step: int) -> GradNormHistory:
        keep = self.steps <= step
        return GradNormHistory(
            self.steps[keep],
            self.norms[keep],
            self.components,
            self.trained,
            self.extra[keep],
            self.extra_names,
            self.max_grad_norm,
        )


def save_gradnorms(history: GradNormHistory, path: str | Path) -> Path:
    """Write gradnorms.npz atomically (`atomic_file`: a killed run never leaves half a file, a failed write
    no temporary copy)."""
    from rankscope.io import write_npz

    return write_npz(
        path,
        version=np.int64(1),
        steps=history.steps.astype(np.int64),
        norms=history.norms.astype(np.float32),
        components=np.array(history.components, dtype=str),
        trained=history.trained.astype(bool),
        extra=history.extra.astype(np.float32),
        extra_names=np.array(history.extra_names, dtype=str),
        max_grad_norm=np.float64(history.max_grad_norm),
    )


def load_gradnorms(path: str | Path) -> GradNormHistory:
    with np.load(path, allow_pickle=False) as z:
        return GradNormHistory(
            z["steps"].astype(np.int64),
            z["norms"].astype(np.float32),
            [str(c) for c in z["components"]],
            z["trained"].astype(bool),
            z["extra"].astype(np.float32),
            [str(c) for c in z["extra_names"]],
            float(z["max_grad_norm"]) if "max_grad_norm" in z.files else 0.0,
        )


class GradNormCallback(TrainerCallback):
    """Records grouped gradient norms at every optimizer step into DIR/gradnorms.npz.

    The file is rewritten at every step that saves a checkpoint (before the checkpoint is written, so the
    file is never behind the newest checkpoint) and at train end; on resume, rows after the resumed step
    are dropped (those steps are redone), so each step appears once. Only the main process records (DDP
    gradients are identical on every rank after the all-reduce; FSDP-sharded gradients are not supported).
    """

    def __init__(self, out_dir: str | Path, flush_every: int = 64) -> None:
        self.path = Path(out_dir) / GRADNORMS_FILE
        self.flush_every = max(1, flush_every)
        self.groups: GradGroups | None = None
        self.pending: list[torch.Tensor] = []
        self.pending_steps: list[int] = []
        self.max_grad_norm = 0.0
        self.rows: list[np.ndarray] = []
        self.steps: list[int] = []

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: nn.Module | None = None,
        **kw: Any,
    ) -> None:
        if model is None or not state.is_world_process_zero:
            return
        self.groups = GradGroups.build(model)
        self.max_grad_norm = float(getattr(args, "max_grad_norm", 0.0) or 0.0)
        self.rows, self.steps, self.pending, self.pending_steps = [], [], [], []
        if state.global_step > 0 and self.path.is_file():
            self._resume(load_gradnorms(self.path), state.global_step)

    def _resume(self, old: GradNormHistory, step: int) -> None:
        g = self.groups
        assert g is not None
        if old.components != g.components or old.extra_names != g.extra_names or old.n_layers != g.n_layers:
            log.warning("%s holds other groups than this model: starting it afresh", self.path)
            return
        old = old.upto(step)
        sq = np.concatenate(
            [
                old.norms.astype(np.float64).reshape(len(old.steps), -1) ** 2,
                old.extra.astype(np.float64) ** 2,
            ],
            1,
        )
        self.rows = list(sq)
        self.steps = old.steps.tolist()

    def on_pre_optimizer_step(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        **kw: Any,
    ) -> None:
        if self.groups is None:
            return
        sq = self.groups.squared()
        if sq is None:
            return
        self.pending.append(sq)
        self.pending_steps.append(state.global_step + 1)  # the step this update completes
        if len(self.pending) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Copy the pending device vectors to the host in one transfer."""
        if not self.pending:
            return
        block = torch.stack([p.to(self.pending[0].device) for p in self.pending]).double().cpu().numpy()
        self.rows.extend(block)
        self.steps.extend(self.pending_steps)
        self.pending, self.pending_steps = [], []

    def history(self) -> GradNormHistory | None:
        self.flush()
        if self.groups is None:
            return None
        g = self.groups
        sq = np.stack(self.rows) if self.rows else np.zeros((0, g.size))
        norms, extra = g.split(sq)
        steps = np.asarray(self.steps, dtype=np.int64)
        return GradNormHistory(
            steps, norms, g.components, g.trained, extra, g.extra_names, self.max_grad_norm
        )

    def write(self) -> Path | None:
        history = self.history()
        if history is None:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return save_gradnorms(history, self.path)

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        if control.should_save:  # written just before the checkpoint: a kill in between loses no row
            self.write()

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        self.write()
