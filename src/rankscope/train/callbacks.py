"""Trainer callbacks: per-step loss log, a stop on non-finite loss, and dev reranking at checkpoints."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from rankscope.data.examples import Group
from rankscope.evaluate.metrics import evaluate
from rankscope.evaluate.rerank import rerank, rerank_pairwise
from rankscope.scorers.decoder import PairwiseScorer
from rankscope.scorers.trainable import PairwiseReranker
from rankscope.scorers.trainable import TrainableReranker as Reranker
from rankscope.train.devset import DevSet

log = logging.getLogger("rankscope.train")


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def truncate_jsonl(path: Path, last_step: int) -> None:
    """Drop rows after `last_step` (a resumed run redoes those steps)."""
    if path.is_file():
        rows = [r for r in read_jsonl(path) if r.get("step", 0) <= last_step]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))


class LossLogCallback(TrainerCallback):
    """Appends {step, loss, grad_norm, lr} to loss.jsonl each time the Trainer logs (every step)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict | None = None,
        **kw: Any,
    ) -> None:
        if not logs or "loss" not in logs or not state.is_world_process_zero:
            return
        row = {"step": state.global_step, "loss": logs["loss"]}
        for key in ("grad_norm", "learning_rate"):
            if key in logs:
                row[key] = logs[key]
        append_jsonl(self.path, row)
        log.info("step %d loss %.4f", state.global_step, logs["loss"])


class NonFiniteLossCallback(TrainerCallback):
    """Stops the run at the first non-finite loss or gradient norm, without saving that step."""

    def __init__(self) -> None:
        self.stopped_at: int | None = None

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict | None = None,
        **kw: Any,
    ) -> None:
        values = [logs.get(k) for k in ("loss", "grad_norm")] if logs else []
        if any(v is not None and not math.isfinite(float(v)) for v in values):
            self.stopped_at = state.global_step
            control.should_training_stop = True
            control.should_save = False
            control.should_evaluate = False
            log.warning(
                "non-finite loss at step %d: training stopped, this step is not saved", state.global_step
            )


@contextlib.contextmanager
def eval_mode(model: nn.Module, bf16: bool) -> Iterator[None]:
    """Dropout off (and bf16 autocast when training uses it, on CUDA or CPU); restores the mode after."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    ctx = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if bf16 and device.type in ("cuda", "cpu")
        else contextlib.nullcontext()
    )
    try:
        with ctx:
            yield
    finally:
        model.train(was)


def dev_loss(
    reranker: Reranker, loss_fn: nn.Module, groups: Sequence[Group], batch_size: int
) -> float | None:
    """Mean training objective over held-out groups (no gradients)."""
    if not groups:
        return None
    device = next(reranker.parameters()).device
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(groups), batch_size):
            batch = reranker.collate(groups[i : i + batch_size])
            labels = batch.pop("labels").to(device)
            batch.pop("n_tokens")
            inputs = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            total += float(loss_fn(reranker(**inputs), labels)) * len(labels)
            n += len(labels)
    return total / max(n, 1)


def pairwise_accuracy(scorer: PairwiseScorer, groups: Sequence[Group]) -> float | None:
    """Share of (better, worse) pairs of held-out groups, asked in both orders, that the scorer gets right."""
    triples, want = [], []
    for g in groups:
        for j in range(1, len(g.docs)):
            if g.labels[0] != g.labels[j]:
                a, b = (g.docs[0], g.docs[j]) if g.labels[0] > g.labels[j] else (g.docs[j], g.docs[0])
                triples += [(g.query, a, b), (g.query, b, a)]
                want += [True, False]
    if not triples:
        return None
    probs = scorer.prefer(triples)
    return sum((p > 0.5) == w for p, w in zip(probs, want, strict=True)) / len(want)


class DevEvalCallback(TrainerCallback):
    """Reranks the dev set at every checkpoint (and every `eval_every` steps): metrics.jsonl gets
    {step, nDCG@10, RR@10, dev_loss, (pairwise_accuracy)}."""

    def __init__(
        self,
        reranker: Reranker,
        loss_fn: nn.Module,
        dev: DevSet,
        path: Path,
        eval_every: int | None = None,
        bf16: bool = False,
    ) -> None:
        self.reranker, self.loss_fn, self.dev, self.path = reranker, loss_fn, dev, path
        self.eval_every, self.bf16 = eval_every, bf16
        self.done: set[int] = set()
        self.on_metrics: Callable[[dict[str, Any]], None] | None = None
        """also called with each row (training sends it to the Trainer's loggers: TensorBoard, W&B)."""
        self.last: dict[str, Any] | None = None
        self.seconds = 0.0
        """time spent evaluating (kept out of the training speed)."""

    def evaluate(self, step: int) -> dict[str, Any]:
        start = time.perf_counter()
        dev, scorer = self.dev, self.reranker.scorer
        row: dict[str, Any] = {"step": step}
        with eval_mode(self.reranker, self.bf16):
            if dev.qrels:
                if isinstance(self.reranker, PairwiseReranker):
                    top = min(dev.pairwise_top, dev.depth)
                    run = rerank_pairwise(
                        scorer, dev.candidates, dev.queries, top, dev.depth, dev.corpus, False
                    )
                else:
                    run = rerank(scorer, dev.candidates, dev.queries, dev.depth, dev.corpus, False)
                row.update(evaluate(run, dev.qrels, dev.measures))
            row["dev_loss"] = dev_loss(self.reranker, self.loss_fn, dev.groups, dev.batch_size)
            if isinstance(scorer, PairwiseScorer):
                row["pairwise_accuracy"] = pairwise_accuracy(scorer, dev.groups)
        took = time.perf_counter() - start
        self.seconds += took
        row["seconds"] = round(took, 2)
        append_jsonl(self.path, row)
        log.info("dev at step %d: %s", step, {k: v for k, v in row.items() if k != "step"})
        self.done.add(step)
        self.last = row
        if self.on_metrics is not None:
            self.on_metrics(row)
        return row

    def maybe_evaluate(self, state: TrainerState) -> None:
        if state.is_world_process_zero and state.global_step not in self.done:
            self.evaluate(state.global_step)

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        self.maybe_evaluate(state)

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        if self.eval_every and state.global_step % self.eval_every == 0 and not control.should_save:
            self.maybe_evaluate(state)
