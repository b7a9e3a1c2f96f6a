"""`rankscope train`: build everything a spec names, train with checkpoints and dev evaluation, and leave
DIR with spec.yaml, train.log, checkpoints/, loss.jsonl, metrics.jsonl, adapter/ and summary.json."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from transformers import PrinterCallback, TrainerCallback, set_seed
from transformers.trainer_utils import get_last_checkpoint

from rankscope.config import ExperimentSpec, FreezeMethod, LoraMethod, load_spec, spec_from_dict
from rankscope.errors import InputError
from rankscope.io import write_json, write_yaml
from rankscope.methods import prepare
from rankscope.methods.registry import method_reranker, method_scorer
from rankscope.models.loading import Backbone, load_backbone
from rankscope.runtime import pick_device, use_bf16
from rankscope.scorers.base import unwrap
from rankscope.scorers.registry import get_scorer
from rankscope.scorers.trainable import TrainableReranker as Reranker
from rankscope.train.callbacks import (
    DevEvalCallback,
    LossLogCallback,
    NonFiniteLossCallback,
    read_jsonl,
    truncate_jsonl,
)
from rankscope.train.data import GroupDataset, build_training_set
from rankscope.train.devset import build_dev_set
from rankscope.train.losses import build_loss
from rankscope.train.trainer import (
    RankTrainer,
    load_reranker,
    save_reranker,
    training_arguments,
)

log = logging.getLogger("rankscope.train")


@dataclass
class TrainResult:
    out: Path
    steps: int
    stopped_at: int | None
    """step of a non-finite loss that stopped the run, else None."""
    adapter: Path | None
    metrics: list[dict[str, Any]]
    tokens_per_second: float
    seconds: float

    def reranker(self, checkpoint: str | int | None = None, device: str = "auto", dtype: str = "auto") -> Any:
        """The trained reranker (rankscope.Reranker) of this run, or of one of its checkpoints."""
        from rankscope.reranker import Reranker

        return Reranker.from_run(self.out, checkpoint, device=device, dtype=dtype)


def load_model(spec: ExperimentSpec, device: str, bf16: bool) -> Backbone:
    """The backbone: frozen weights in bf16 on a bf16 GPU (LoRA keeps its own weights in fp32), else fp32."""
    kind = get_scorer(spec.scorer, "scorer").kind
    full = isinstance(spec.method, FreezeMethod) and spec.method.full_weights
    dtype = torch.bfloat16 if bf16 and device.startswith("cuda") and not full else torch.float32
    if isinstance(spec.method, LoraMethod) and spec.method.qlora:
        from rankscope.methods.lora import load_4bit_backbone

        return load_4bit_backbone(spec.model, kind)
    return load_backbone(
        spec.model, kind=kind, dtype=dtype, device=device, trust_remote_code=spec.trust_remote_code
    )


def build_reranker_for(spec: ExperimentSpec, device: str, bf16: bool) -> tuple[Backbone, Reranker]:
    """Backbone -> method -> scorer -> trainable reranker, seeded so a run and its resume start alike."""
    set_seed(spec.optim.seed)
    bb = load_model(spec, device, bf16)
    if spec.optim.gradient_checkpointing:
        bb.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        bb.model.config.use_cache = False
    model = prepare(bb.model, spec.method)
    scorer = method_scorer(spec, model, bb.tokenizer)
    head = getattr(scorer, "head", None)
    if head is not None:
        head.to(next(unwrap(model).parameters()).device)
    reranker = method_reranker(spec, scorer, model)
    return bb, reranker.train()


@contextlib.contextmanager
def console_log() -> Iterator[None]:
    """Progress lines of rankscope.train on stderr while a command runs."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    try:
        yield
    finally:
        log.removeHandler(handler)


def _setup_log(out: Path) -> logging.Handler:
    handler = logging.FileHandler(out / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    for name in ("rankscope.train", "transformers.trainer"):
        logging.getLogger(name).addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def main_process() -> bool:
    """False in the non-zero ranks of `accelerate launch`/torchrun: they neither check nor write files."""
    return int(os.environ.get("RANK", "0")) == 0


def _prepare_out(spec: ExperimentSpec | None, out: Path, resume: bool) -> ExperimentSpec:
    """Refuse to overwrite a run; on --resume, read (and check) the spec stored in it."""
    stored = out / "spec.yaml"
    if not main_process() and spec is not None:
        return spec
    if resume:
        if not stored.is_file():
            raise InputError("nothing to resume: no spec.yaml in the output folder", out)
        saved = spec_from_dict(yaml.safe_load(stored.read_text()), stored)
        if spec is not None and spec.dump() != saved.dump():
            raise InputError("the spec differs from the one this run started with (spec.yaml)", out)
        return saved
    if spec is None:
        raise InputError("give a spec to train")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("output folder exists and is not empty (pass --resume to continue that run)", out)
    out.mkdir(parents=True, exist_ok=True)
    write_yaml(stored, spec.dump())
    return spec


def train(spec: ExperimentSpec | str | Path | None, out: str | Path, resume: bool = False) -> TrainResult:
    """Train the spec's reranker into `out`; `resume` continues from the last checkpoint there."""
    out = Path(out)
    if isinstance(spec, (str, Path)):
        spec = load_spec(spec)
    spec = _prepare_out(spec, out, resume)
    handler = _setup_log(out) if main_process() else logging.NullHandler()
    try:
        return _train(spec, out, resume)
    finally:
        for name in ("rankscope.train", "transformers.trainer"):
            logging.getLogger(name).removeHandler(handler)
        handler.close()


def inspect_callbacks(out: Path, reranker: Reranker) -> list[TrainerCallback]:
    """Main process only: gradient norms per step (gradnorms.npz) and LoRA delta norms per checkpoint
    (deltas.npz); both drop the rows after the checkpoint a resumed run starts from."""
    if not main_process():
        return []
    from rankscope.inspect.deltas import DeltaCallback
    from rankscope.inspect.gradnorms import GradNormCallback

    return [GradNormCallback(out), DeltaCallback(out, reranker.model)]


def _train(spec: ExperimentSpec, out: Path, resume: bool) -> TrainResult:
    device = pick_device(spec.device, "device")
    bf16 = use_bf16(spec.optim.bf16, device)
    pointwise = spec.train.group_size == 1
    eval_sets = [*spec.eval_sets, *([spec.dev.dataset] if spec.dev.dataset else [])]
    data = build_training_set(spec.train, eval_sets, pointwise=pointwise)
    log.info("training groups %d, dev groups %d, sources %s", len(data.train), len(data.dev), data.sources)
    if data.dropped:
        log.warning("training queries dropped because an evaluation set holds them: %s", data.dropped)
    bb, reranker = build_reranker_for(spec, device, bf16)
    n_train = sum(p.numel() for p in reranker.parameters() if p.requires_grad)
    log.info(
        "model %s (%s), scorer %s, method %s: %d trainable parameters",
        spec.model,
        bb.path,
        spec.scorer,
        spec.method.name,
        n_train,
    )
    loss_fn = build_loss([(o.name, o.weight) for o in spec.objectives], spec.train.min_relevance)
    dev_cb = DevEvalCallback(
        reranker, loss_fn, build_dev_set(spec, data.dev), out / "metrics.jsonl", spec.optim.eval_every, bf16
    )
    nonfinite = NonFiniteLossCallback()
    info = {"model": spec.model, "base": str(bb.path), "method": spec.method.name}
    trainer = RankTrainer(
        model=reranker,
        loss_fn=loss_fn,
        info=info,
        args=training_arguments(spec, out, device, bf16),
        train_dataset=GroupDataset(data.train),
        callbacks=[LossLogCallback(out / "loss.jsonl"), nonfinite, *inspect_callbacks(out, reranker), dev_cb],
    )
    trainer.remove_callback(PrinterCallback)  # steps go to train.log and the rankscope.train logger
    _log_dev_metrics(trainer, dev_cb, out)
    last = (
        get_last_checkpoint(str(out / "checkpoints")) if resume and (out / "checkpoints").is_dir() else None
    )
    main = main_process()
    done = int(Path(last).name.split("-")[-1]) if last else 0
    if main:
        for name in ("loss.jsonl", "metrics.jsonl"):
            truncate_jsonl(out / name, done)  # the steps after the checkpoint are redone
        dev_cb.done = {int(r["step"]) for r in read_jsonl(out / "metrics.jsonl")}
        log.info("resuming from %s", last) if last else log.info("starting at step 0")
        if not last and spec.dev.at_start and 0 not in dev_cb.done:
            dev_cb.evaluate(0)
    start, eval_before = time.perf_counter(), dev_cb.seconds
    if last and done >= spec.optim.steps:
        # killed after its last checkpoint: nothing to redo (resuming there, the Trainer would take one
        # step past max_steps before it checks)
        load_reranker(reranker, last)
        trainer.state.global_step = done
    else:
        trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - start - (dev_cb.seconds - eval_before)
    tps = trainer.tokens_seen / max(seconds, 1e-9)
    steps = trainer.state.global_step
    if not main:
        return TrainResult(out, steps, nonfinite.stopped_at, None, [], tps, seconds)
    adapter = _final_adapter(trainer, reranker, dev_cb, nonfinite, out, info)
    summary = {
        "steps": steps,
        "stopped_at_non_finite_loss": nonfinite.stopped_at,
        "adapter": str(adapter) if adapter else None,
        "tokens_seen": trainer.tokens_seen,
        "train_seconds": round(seconds, 2),
        "dev_seconds": round(dev_cb.seconds, 2),
        "tokens_per_second": round(tps, 1),
        "final_dev": dev_cb.last,
    }
    write_json(out / "summary.json", summary)
    if adapter is not None:
        from rankscope.train.card import current_command, write_card

        write_card(out, spec, adapter, current_command() or None)
    log.info("done: %s", summary)
    metrics = read_jsonl(out / "metrics.jsonl")
    return TrainResult(out, steps, nonfinite.stopped_at, adapter, metrics, tps, seconds)


def _log_dev_metrics(trainer: RankTrainer, dev_cb: DevEvalCallback, out: Path) -> None:
    """TensorBoard events go to RUN/tensorboard; dev rows reach every logger as eval/<measure>."""
    from transformers.integrations import TensorBoardCallback

    for cb in trainer.callback_handler.callbacks:
        if isinstance(cb, TensorBoardCallback):
            cb.logging_dir = str(out / "tensorboard")
    if trainer.args.report_to:
        dev_cb.on_metrics = lambda row: trainer.log(
            {f"eval_{k}": v for k, v in row.items() if k != "step" and isinstance(v, int | float)}
        )


def _final_adapter(
    trainer: RankTrainer,
    reranker: Reranker,
    dev_cb: DevEvalCallback,
    nonfinite: NonFiniteLossCallback,
    out: Path,
    info: dict[str, Any],
) -> Path | None:
    """out/adapter: the trained state, or after a non-finite loss a copy of the last good checkpoint."""
    final = out / "adapter"
    if final.exists():
        shutil.rmtree(final)
    if nonfinite.stopped_at is not None:
        good = get_last_checkpoint(str(out / "checkpoints")) if (out / "checkpoints").is_dir() else None
        if good is None:
            log.warning(
                "non-finite loss at step %d before any checkpoint: no adapter kept", nonfinite.stopped_at
            )
            return None
        shutil.copytree(
            good,
            final,
            ignore=shutil.ignore_patterns(
                "optimizer.pt", "scheduler.pt", "rng_state*", "trainer_state.json", "training_args.bin"
            ),
        )
        log.warning(
            "non-finite loss at step %d: kept the last good checkpoint %s as %s",
            nonfinite.stopped_at,
            Path(good).name,
            final,
        )
        return final
    dev_cb.maybe_evaluate(trainer.state)
    save_reranker(reranker, final, info)
    return final
