"""A thin transformers.Trainer subclass: the loss is a ranking loss on the scorer's differentiable scores,
and checkpoints hold the adapter in PEFT's format plus the scoring head instead of a full model."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import Trainer, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

from rankscope.config import ExperimentSpec
from rankscope.data.examples import Group
from rankscope.errors import InputError
from rankscope.methods.registry import load_trained, save_trained
from rankscope.scorers.trainable import TrainableReranker as Reranker
from rankscope.train.checksums import write_checksums
from rankscope.train.losses import apply_loss
from rankscope.trained import HEAD_FILE, INFO_FILE

log = logging.getLogger("rankscope.train")


def save_reranker(reranker: Reranker, folder: str | Path, info: dict[str, Any] | None = None) -> None:
    """Adapter (PEFT format) or trained weights, `head.safetensors` when the scorer has a head, and
    `reranker.json` naming the scorer."""
    folder = Path(folder)
    save_trained(reranker.model, folder)
    if reranker.head is not None:
        state = {k: v.detach().cpu().contiguous() for k, v in reranker.head.state_dict().items()}
        save_file(state, str(folder / HEAD_FILE))
    (folder / INFO_FILE).write_text(json.dumps({"scorer": reranker.name, **(info or {})}, indent=2) + "\n")


def load_reranker(reranker: Reranker, folder: str | Path) -> Reranker:
    """Load what `save_reranker` wrote into a reranker built the same way (in place)."""
    folder = Path(folder)
    load_trained(reranker.model, folder)
    if reranker.head is not None:
        device = next(reranker.head.parameters()).device
        reranker.head.load_state_dict(
            {k: v.to(device) for k, v in load_file(str(folder / HEAD_FILE)).items()}
        )
    return reranker


def collate_groups(reranker: Reranker) -> Callable[[Sequence[Group]], dict[str, Any]]:
    """The reranker's batches, plus `teacher` (groups, group size) when every group has teacher scores."""

    def collate(groups: Sequence[Group]) -> dict[str, Any]:
        batch = reranker.collate(groups)
        if groups and all(g.teacher is not None for g in groups):
            batch["teacher"] = torch.tensor([list(g.teacher or ()) for g in groups], dtype=torch.float32)
        return batch

    return collate


def log_spreads(scores: torch.Tensor, teacher: torch.Tensor, scale: float) -> tuple[float, float]:
    """Logs (and returns) how far the student's and the (scaled) teacher's scores spread within a group,
    on the first batch: a distillation loss pulls the first toward the second, so a student far wider
    than its teacher is squeezed (teacher.scale puts the teacher on the student's scale)."""
    student = scores.detach().float().std(dim=-1, unbiased=False).mean().item()
    target = (teacher.float() * scale).std(dim=-1, unbiased=False).mean().item()
    log.info(
        "distillation: scores spread %.3g within a group (standard deviation, first batch), the teacher's "
        "%.3g (teacher.scale %g)",
        student,
        target,
        scale,
    )
    if target > 0 and not 0.5 <= student / target <= 2:
        log.warning(
            "distillation: the student's scores spread %.1fx the teacher's; the loss pulls them toward the "
            "teacher's spread unless teacher.scale is about %.2g",
            student / target,
            scale * student / target,
        )
    return student, target


class RankTrainer(Trainer):
    """Trainer over a Reranker: compute_loss = loss_fn(reranker(**batch), labels[, teacher=...])."""

    loss_is_scaled_for_ga = False  # a per-batch mean: the Trainer divides by the accumulation steps

    def __init__(
        self,
        *,
        model: Reranker,
        loss_fn: nn.Module,
        info: dict[str, Any] | None = None,
        teacher_scale: float = 1.0,
        **kw: Any,
    ):
        model.accepts_loss_kwargs = False
        super().__init__(model=model, data_collator=collate_groups(model), **kw)
        self.loss_fn = loss_fn
        self.info = info or {}
        self.tokens_seen = 0
        self.before: dict[str, float] = {"tokens_seen": 0, "train_seconds": 0.0}
        """what the sessions before a resume counted (read from the checkpoint's progress.json)"""
        self.elapsed: Callable[[], float] = lambda: 0.0
        """training seconds of this session so far (dev evaluations excluded), set by `train`"""
        self.teacher_scale = teacher_scale
        self.spread_logged = False

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        inputs = dict(inputs)
        labels = inputs.pop("labels")
        teacher = inputs.pop("teacher", None)
        self.tokens_seen += int(inputs.pop("n_tokens", 0))
        scores = model(**inputs)
        if teacher is not None:
            teacher = teacher.to(scores.device)
            if not self.spread_logged:
                self.spread_logged = True
                log_spreads(scores, teacher, self.teacher_scale)
        loss = apply_loss(self.loss_fn, scores, labels.to(scores.device), teacher)
        return (loss, scores) if return_outputs else loss

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        if self.args.should_save:
            out = Path(output_dir or self.args.output_dir)
            out.mkdir(parents=True, exist_ok=True)
            save_reranker(self.model, out, self.info)

    def _save_checkpoint(self, model: nn.Module, trial: Any) -> None:
        """The Trainer's checkpoint, then checksums.json (last), then the rotation of old checkpoints:
        a checkpoint cut off while being written never costs the previous good one."""
        limit = self.args.save_total_limit
        self.args.save_total_limit = None
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self.args.save_total_limit = limit
        if self.args.should_save:
            run_dir = self._get_output_dir(trial=trial)
            folder = Path(run_dir) / f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
            (folder / PROGRESS_FILE).write_text(json.dumps(self.progress()) + "\n")  # under the checksums
            write_checksums(folder)
            rotate_checkpoints(
                output_dir=run_dir,
                save_total_limit=limit,
                best_model_checkpoint=self.state.best_model_checkpoint,
                use_mtime=False,  # by step: a kill mid-deletion must not make an old folder look newest
            )

    def progress(self) -> dict[str, float]:
        """Tokens and training seconds over every session of the run so far."""
        return {
            "tokens_seen": int(self.before["tokens_seen"]) + self.tokens_seen,
            "train_seconds": round(float(self.before["train_seconds"]) + self.elapsed(), 2),
        }

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: nn.Module | None = None) -> None:
        load_reranker(self.model, resume_from_checkpoint)


PROGRESS_FILE = "progress.json"
"""a checkpoint's count of tokens and training seconds since the run began, which a resume carries on."""


def read_progress(checkpoint: str | Path) -> dict[str, float]:
    """A checkpoint's progress.json (zeros for one written before it existed)."""
    try:
        data = json.loads((Path(checkpoint) / PROGRESS_FILE).read_text())
        return {"tokens_seen": int(data["tokens_seen"]), "train_seconds": float(data["train_seconds"])}
    except (OSError, ValueError, KeyError, TypeError):
        return {"tokens_seen": 0, "train_seconds": 0.0}


def report_targets(setting: str | list[str]) -> list[str]:
    """The Trainer's `report_to`: "auto" is TensorBoard where it is installed, else nothing."""
    if setting == "auto":
        return ["tensorboard"] if importlib.util.find_spec("tensorboard") is not None else []
    targets = [t for t in setting if t != "none"]
    modules = {"tensorboard": ("tensorboard", "tensorboardX")}  # either serves the Trainer's TensorBoard
    missing = [t for t in targets if all(importlib.util.find_spec(m) is None for m in modules.get(t, (t,)))]
    if missing:  # the Trainer raised it after the data and the model were loaded, as a traceback
        name = missing[0]
        raise InputError(f"{name} is not installed (pip install {name}), or leave it out", "optim.report_to")
    if "wandb" in targets:
        os.environ.setdefault("WANDB_MODE", "offline")  # never reach a server unless the user says so
    return targets


def training_arguments(spec: ExperimentSpec, out: Path, device: str, bf16: bool) -> TrainingArguments:
    o = spec.optim
    return TrainingArguments(
        output_dir=str(out / "checkpoints"),
        max_steps=o.steps,
        per_device_train_batch_size=o.batch_size,
        gradient_accumulation_steps=o.grad_accum,
        learning_rate=o.lr,
        warmup_steps=o.warmup,
        # transformers' "constant" has no warm-up: optim.warmup applies to every scheduler
        lr_scheduler_type="constant_with_warmup" if o.scheduler == "constant" else o.scheduler,
        weight_decay=o.weight_decay,
        max_grad_norm=o.max_grad_norm,
        bf16=bf16,
        save_strategy="steps",
        save_steps=o.save_every,
        save_total_limit=o.keep_checkpoints,
        logging_steps=1,
        logging_nan_inf_filter=False,
        report_to=report_targets(o.report_to),
        seed=o.seed,
        data_seed=o.seed,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        use_cpu=device == "cpu",
        disable_tqdm=True,
    )
