"""`rankscope train`: build everything a spec names, train with checkpoints and dev evaluation, and leave
DIR with spec.yaml, train.log, checkpoints/, loss.jsonl, metrics.jsonl, dev_runs/, dev_qrels.txt,
adapter/ (the final state), best/ (the best checkpoint by the dev measure), summary.json, and with a
teacher teacher_scores.jsonl (and filtered_negatives.jsonl when negatives are filtered)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import PrinterCallback, TrainerCallback, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from rankscope.config import (
    ExperimentSpec,
    LoraMethod,
    load_spec,
    read_yaml,
    spec_from_dict,
    stored_spec_data,
)
from rankscope.errors import InputError
from rankscope.fields import STUDENT_WEIGHT, TEMPERATURE
from rankscope.inspect.health import verdicts
from rankscope.io import DiskFullError, atomic_file, disk_full, read_jsonl, write_json, write_yaml
from rankscope.methods import prepare
from rankscope.methods.registry import method_reranker, method_scorer
from rankscope.models.loading import Backbone, load_backbone
from rankscope.runtime import environment, environment_changes, pick_device, use_bf16
from rankscope.scorers.base import unwrap
from rankscope.scorers.registry import get_scorer
from rankscope.scorers.trainable import TrainableReranker as Reranker
from rankscope.train.best import BestCheckpoint, BestCheckpointCallback, settle_best
from rankscope.train.callbacks import (
    DevEvalCallback,
    LossLogCallback,
    NonFiniteLossCallback,
    truncate_jsonl,
)
from rankscope.train.checksums import last_good_checkpoint
from rankscope.train.data import GroupDataset, TrainingSet, build_training_set
from rankscope.train.devset import DevSet, build_dev_set, few_queries_notice
from rankscope.train.losses import build_loss
from rankscope.train.negatives import filter_false_negatives
from rankscope.train.teacher import CACHE_FILE, teacher_scores
from rankscope.train.trainer import (
    RankTrainer,
    collate_groups,
    load_reranker,
    read_progress,
    report_targets,
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
    best: BestCheckpoint | None = None
    """the best saved state by the dev measure (RUN/best), None without dev rows."""

    def reranker(
        self,
        checkpoint: str | int | None = None,
        device: str = "auto",
        dtype: str = "auto",
        merge: bool = False,
    ) -> Any:
        """The trained reranker (rankscope.Reranker) of this run, or of one of its checkpoints; `merge`
        as in Reranker.from_run."""
        from rankscope.reranker import Reranker

        return Reranker.from_run(self.out, checkpoint, device=device, dtype=dtype, merge=merge)


def load_model(spec: ExperimentSpec, device: str, bf16: bool) -> Backbone:
    """The backbone: frozen weights in bf16 on a bf16 GPU (LoRA keeps its own weights in fp32), else fp32."""
    kind = get_scorer(spec.scorer, "scorer").kind
    full = spec.method.trains_full_weights()
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
        enable = getattr(bb.model, "activation_checkpointing_enable", None)  # newer transformers
        if enable is not None:
            enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            bb.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        bb.model.config.use_cache = False
    try:
        model = prepare(bb.model, spec.method)
    except InputError as e:
        if e.path is not None:
            raise
        field = "method.layers" if str(e).startswith("bad layer spec") else "method"  # or its components
        raise InputError(str(e), field) from None
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


def end_distributed() -> None:
    """Under `accelerate launch`/torchrun, after a run: wait until every rank is done (rank 0 writes the
    summary after the others have finished training), then tear the process group down. Left to the
    interpreter's exit, gloo's threads can abort a rank (SIGABRT) and fail the whole launch. A no-op
    in a single process."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def _prepare_out(spec: ExperimentSpec | None, out: Path, resume: bool) -> ExperimentSpec:
    """Refuse to overwrite a run; on --resume, read (and check) the spec stored in it."""
    stored = out / "spec.yaml"
    if not main_process() and spec is not None:
        return spec
    if resume and not stored.is_file() and spec is not None and _nothing_saved(out):
        resume = False  # killed before spec.yaml was written: start the run
    if resume:
        if not stored.is_file():
            raise InputError("nothing to resume: no spec.yaml in the output folder", out)
        saved = spec_from_dict(stored_spec_data(read_yaml(stored)), stored)
        if spec is not None and spec.dump() != saved.dump():
            key, given, stored_value = first_difference(spec.dump(), saved.dump())
            raise InputError(
                f"the spec differs from the one this run started with (spec.yaml): {key} is {given!r} "
                f"here, {stored_value!r} there",
                out,
            )
        return saved
    if spec is None:
        raise InputError("give a spec to train")
    if not _nothing_saved(out):
        raise InputError("output folder exists and is not empty (pass --resume to continue that run)", out)
    out.mkdir(parents=True, exist_ok=True)
    write_yaml(stored, spec.dump())  # atomically
    return spec


def first_difference(a: Any, b: Any, key: str = "") -> tuple[str, Any, Any]:
    """The first dotted field where two dumped specs differ, and its two values."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in [*a, *(k for k in b if k not in a)]:
            if a.get(k) != b.get(k):
                return first_difference(a.get(k), b.get(k), f"{key}.{k}" if key else str(k))
    return key, a, b


def _nothing_saved(out: Path) -> bool:
    """`out` is missing or holds only hidden temporary files (a run killed before it wrote spec.yaml)."""
    return not out.exists() or (out.is_dir() and all(p.name.startswith(".") for p in out.iterdir()))


def train(
    spec: ExperimentSpec | dict[str, Any] | str | Path | None, out: str | Path, resume: bool = False
) -> TrainResult:
    """Train the spec's reranker into `out`; `resume` continues from the last checkpoint there. `spec` is
    a YAML file, a spec, or its fields as a dict; relative paths in the last two are taken from the working
    directory and stored absolute, so that the run loads from anywhere."""
    out = Path(out)
    if isinstance(spec, (str, Path)):
        spec = load_spec(spec)
    elif isinstance(spec, dict):
        spec = spec_from_dict(spec)
    elif isinstance(spec, ExperimentSpec):
        spec = spec_from_dict(spec.dump(), check_files=False)  # its paths made absolute, as a YAML's are
    elif spec is not None:
        raise InputError(f"expected a spec, its fields as a dict or a YAML file, got {type(spec).__name__}")
    created = not out.exists()
    spec = _prepare_out(spec, out, resume)
    if resume and (done := finished(out, spec)) is not None:
        log.info("the run finished before (summary.json): nothing to redo")
        return done
    level = log.level  # train.log needs INFO; the caller's level is back afterwards
    handler = _setup_log(out) if main_process() else logging.NullHandler()
    try:
        return _train(spec, out, resume)
    except InputError as e:
        if not resume and main_process():
            handler.close()
            _undo_start(out, created)  # the corrected spec can then train into the same folder
            if (out / CACHE_FILE).is_file():  # kept: hours of teacher scoring a new folder can read
                raise InputError(
                    f"{e} (the teacher's scores stay in {out / CACHE_FILE}: train the corrected spec into "
                    f"another folder with teacher.reuse: [{out}])"
                ) from None
        raise
    except Exception as e:
        if isinstance(e, DiskFullError) or not disk_full(e):
            raise
        raise DiskFullError(out) from e  # one line from the CLI; --resume skips a cut-off checkpoint
    finally:
        for name in ("rankscope.train", "transformers.trainer"):
            logging.getLogger(name).removeHandler(handler)
        handler.close()
        log.setLevel(level)


STARTED = ("spec.yaml", "train.log")  # what a run writes before it loads data and model


def _undo_start(out: Path, created: bool) -> None:
    """After bad input found while the run was being set up (data, model, layers, device), remove what the
    run wrote: the folder when this run created it, else spec.yaml and train.log. Kept when anything else
    was saved (a teacher cache, a checkpoint): that is work a --resume can use."""
    if any(p.name not in STARTED and not p.name.startswith(".") for p in out.iterdir()):
        return
    if created:
        shutil.rmtree(out, ignore_errors=True)
        return
    for name in STARTED:
        (out / name).unlink(missing_ok=True)


def finished(out: Path, spec: ExperimentSpec) -> TrainResult | None:
    """The recorded result of a run that finished all its steps (summary.json), else None: resuming it
    must not redo its last step or rewrite its summary."""
    path = out / "summary.json"
    if not path.is_file():
        return None
    s = json.loads(path.read_text())
    if s.get("steps", 0) < spec.optim.steps and s.get("stopped_at_non_finite_loss") is None:
        return None
    best = BestCheckpoint(**s["best_checkpoint"]) if s.get("best_checkpoint") else None
    adapter = Path(s["adapter"]) if s.get("adapter") else None
    metrics = read_jsonl(out / "metrics.jsonl")
    tps, seconds = float(s.get("tokens_per_second", 0.0)), float(s.get("train_seconds", 0.0))
    return TrainResult(
        out, s["steps"], s.get("stopped_at_non_finite_loss"), adapter, metrics, tps, seconds, best
    )


def inspect_callbacks(out: Path, reranker: Reranker) -> list[TrainerCallback]:
    """Main process only: gradient norms per step (gradnorms.npz) and LoRA delta norms per checkpoint
    (deltas.npz); both drop the rows after the checkpoint a resumed run starts from."""
    if not main_process():
        return []
    from rankscope.inspect.deltas import DeltaCallback
    from rankscope.inspect.gradnorms import GradNormCallback

    return [GradNormCallback(out), DeltaCallback(out, reranker.model)]


def with_teacher(
    spec: ExperimentSpec, data: TrainingSet, out: Path, device: str, args: TrainingArguments
) -> dict[str, Any]:
    """Teacher scores on every training and held-out group (the main process computes or reads the cache
    first, the others then read it), and the false-negative filter; returns what summary.json records."""
    if spec.teacher is None:
        return {}
    with args.main_process_first(desc="teacher scores"):
        scores = teacher_scores(spec, [*data.train, *data.dev], out, device)
    data.train, missing = scores.attach(data.train)
    data.dev, missing_dev = scores.attach(data.dev)
    if missing or missing_dev:
        log.warning("groups without teacher scores left out: %d training, %d dev", missing, missing_dev)
    if not data.train:
        raise InputError("no training group has teacher scores (check the teacher file)", "teacher")
    info: dict[str, Any] = {"teacher_pairs_computed": scores.computed, "teacher_pairs": len(scores.raw)}
    cfg = spec.train.filter_negatives
    if cfg is not None:
        kept = filter_false_negatives(data.train, cfg.margin)
        log.info(
            "false-negative filter (margin %g): dropped %d negatives of %d queries; %d of %d groups "
            "could not be refilled and were left out",
            cfg.margin,
            kept.n_dropped,
            len(kept.dropped),
            kept.groups_dropped,
            len(data.train),
        )
        if not kept.groups:
            raise InputError("the false-negative filter left no training group", "train.filter_negatives")
        data.train = kept.groups
        if main_process():
            rows = [{"query": q, "doc": d} for q, docs in kept.dropped.items() for d in sorted(docs)]
            (out / "filtered_negatives.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        info["filter_negatives"] = {
            "margin": cfg.margin,
            "dropped": kept.n_dropped,
            "queries": len(kept.dropped),
            "groups_left_out": kept.groups_dropped,
        }
    return info


def select_measure(spec: ExperimentSpec, dev: DevSet) -> str:
    """The measure that picks the best checkpoint: dev.select_by, else the dev set's first measure."""
    measure = spec.dev.select_by or dev.measures[0]
    if measure not in [*dev.measures, "dev_loss"]:
        raise InputError(
            f"dev.select_by: '{measure}' is not a dev measure (one of {', '.join(dev.measures)}, dev_loss)",
            "spec.yaml",
        )
    return measure


def _train(spec: ExperimentSpec, out: Path, resume: bool) -> TrainResult:
    device = pick_device(spec.device, "device")
    if isinstance(spec.method, LoraMethod) and spec.method.qlora:
        from rankscope.methods.lora import check_qlora

        check_qlora()  # before the data and the teacher: both can take hours
    report_targets(spec.optim.report_to)  # a logger that is not installed, too
    bf16 = use_bf16(spec.optim.bf16, device)
    pointwise = spec.train.group_size == 1
    eval_sets = [*spec.eval_sets, *([spec.dev.dataset] if spec.dev.dataset else [])]
    data = build_training_set(spec.train, eval_sets, pointwise=pointwise)
    log.info("training groups %d, dev groups %d, sources %s", len(data.train), len(data.dev), data.sources)
    if data.dropped:
        log.warning("training queries dropped because an evaluation set holds them: %s", data.dropped)
    dev_set = build_dev_set(spec, data.dev)
    measure = select_measure(spec, dev_set)
    if notice := few_queries_notice(dev_set, measure, spec.dev.max_queries):
        log.warning(notice)
    args = training_arguments(spec, out, device, bf16)
    teacher_info = with_teacher(spec, data, out, device, args)
    dev_set.groups = list(data.dev)  # with their teacher scores (dev_loss of the distillation objectives)
    bb, reranker = build_reranker_for(spec, device, bf16)
    n_train = sum(p.numel() for p in reranker.parameters() if p.requires_grad)
    if not n_train:
        raise InputError(f"method '{spec.method.name}' leaves no parameter to train", "method")
    log.info(
        "model %s (%s), scorer %s, method %s: %d trainable parameters",
        spec.model,
        bb.path,
        spec.scorer,
        spec.method.name,
        n_train,
    )
    temperature = spec.teacher.temperature if spec.teacher else TEMPERATURE
    student_weight = spec.teacher.student_weight if spec.teacher else STUDENT_WEIGHT
    objectives = [(o.name, o.weight) for o in spec.objectives]
    teacher_scale = spec.teacher.scale if spec.teacher else 1.0
    loss_fn = build_loss(objectives, spec.train.min_relevance, temperature, student_weight, teacher_scale)
    dev_cb = DevEvalCallback(
        reranker,
        loss_fn,
        dev_set,
        out / "metrics.jsonl",
        spec.optim.eval_every,
        bf16,
        collate_groups(reranker),
    )
    best_cb = BestCheckpointCallback(out, measure, dev_cb.rows)
    nonfinite = NonFiniteLossCallback()
    info = {"model": spec.model, "base": str(bb.path), "method": spec.method.name}
    callbacks = [LossLogCallback(out / "loss.jsonl"), nonfinite, *inspect_callbacks(out, reranker), dev_cb]
    trainer = RankTrainer(
        model=reranker,
        loss_fn=loss_fn,
        info=info,
        teacher_scale=teacher_scale,
        args=args,
        train_dataset=GroupDataset(data.train),
        callbacks=[*callbacks, best_cb],  # best_cb after dev_cb: it reads the checkpoint's dev row
    )
    trainer.remove_callback(PrinterCallback)  # steps go to train.log and the rankscope.train logger
    _log_dev_metrics(trainer, dev_cb, out)
    main = main_process()
    last = None
    if resume:
        with args.main_process_first(desc="checkpoint checksums"):  # rank 0 moves damaged ones aside
            good = last_good_checkpoint(out / "checkpoints", move=main)
        last = str(good) if good else None
    done = int(Path(last).name.split("-")[-1]) if last else 0
    if main:
        for name in ("loss.jsonl", "metrics.jsonl"):
            truncate_jsonl(out / name, done)  # the steps after the checkpoint are redone
        dev_cb.resume(read_jsonl(out / "metrics.jsonl"))
        best_cb.resume(done)
        if last:  # a kill during the checkpoint's dev evaluation, or while it was copied to RUN/best
            if done not in dev_cb.done:
                load_reranker(reranker, last)
                dev_cb.evaluate(done)
            best_cb.consider(done, Path(last))
        log.info("resuming from %s", last) if last else log.info("starting at step 0")
        record_environment(out, done, device, bf16)
        if not last and spec.dev.at_start and 0 not in dev_cb.done:
            dev_cb.evaluate(0)
    start, eval_before = time.perf_counter(), dev_cb.seconds
    if last:  # tokens and seconds of the sessions before, so that the summary counts the whole run
        trainer.before = read_progress(last)
    trainer.elapsed = lambda: time.perf_counter() - start - (dev_cb.seconds - eval_before)
    if last and done >= spec.optim.steps:
        # killed after its last checkpoint: nothing to redo (resuming there, the Trainer would take one
        # step past max_steps before it checks)
        load_reranker(reranker, last)
        trainer.state.global_step = done
    else:
        trainer.train(resume_from_checkpoint=last)
    progress = trainer.progress()  # over every session of the run
    tps = progress["tokens_seen"] / max(progress["train_seconds"], 1e-9)
    seconds = progress["train_seconds"]
    steps = trainer.state.global_step
    if not main:
        return TrainResult(out, steps, nonfinite.stopped_at, None, [], tps, seconds)
    adapter = _final_adapter(trainer, reranker, dev_cb, nonfinite, out, info)
    metrics = read_jsonl(out / "metrics.jsonl")
    final_step = steps if nonfinite.stopped_at is None and adapter is not None else None
    best = settle_best(out, metrics, measure, final_step)
    health = verdicts(metrics, read_jsonl(out / "loss.jsonl"), None if measure == "dev_loss" else measure)
    summary = {
        "steps": steps,
        "stopped_at_non_finite_loss": nonfinite.stopped_at,
        "adapter": str(adapter) if adapter else None,
        "tokens_seen": progress["tokens_seen"],
        "train_seconds": round(seconds, 2),
        "dev_seconds": round(dev_cb.seconds, 2),
        "tokens_per_second": round(tps, 1),
        "final_dev": dev_cb.last,
        "best_checkpoint": best.as_dict() if best else None,
        "health": [v.line for v in health],
        "environment": read_jsonl(out / ENVIRONMENT_FILE),
        **teacher_info,
    }
    write_json(out / "summary.json", summary)
    if adapter is not None:
        from rankscope.train.card import current_command, write_card

        for folder in (adapter, out / "best"):
            if folder.is_dir():
                write_card(out, spec, folder, current_command() or None)
    log.info("done: %s", summary)
    if best is not None:
        log.info(
            "best checkpoint: step %d (%s %.4f), kept in %s", best.step, best.measure, best.value, best.folder
        )
    for v in health:
        log.info("health: %s", v.line)
    return TrainResult(out, steps, nonfinite.stopped_at, adapter, metrics, tps, seconds, best)


ENVIRONMENT_FILE = "environment.jsonl"
"""One row per training session (start and each resume): the step it began at and `runtime.environment`."""


def record_environment(out: Path, step: int, device: str, bf16: bool) -> dict[str, Any]:
    """Log and append this session's environment; a resume under another one gets a warning naming what
    changed, since CPU float arithmetic (and so the steps after it) depends on threads, kernels, versions."""
    now = environment(device, bf16)
    before = read_jsonl(out / ENVIRONMENT_FILE)
    changes = environment_changes(before[-1], now) if before else []
    if changes:
        log.warning(
            "resuming at step %d in another environment (%s): the steps from here will not match an "
            "uninterrupted run's",
            step,
            "; ".join(changes),
        )
    log.info("environment: %s", ", ".join(f"{k} {v}" for k, v in now.items()))
    from rankscope.train.card import current_command

    command = current_command()  # the model card names the first session's, and each resume's
    row = {"step": step, **now, **({"command": command} if command else {})}
    with atomic_file(out / ENVIRONMENT_FILE) as tmp:  # a line cut off by a kill is not appended to
        tmp.write_text("".join(json.dumps(r) + "\n" for r in [*before, row]))
    return row


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
