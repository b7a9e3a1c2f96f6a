"""Trainer callbacks: per-step loss log, a stop on non-finite loss, and dev reranking at checkpoints
(metrics and score health in metrics.jsonl, the run in dev_runs/step-N.trec, the qrels in
dev_qrels.txt)."""

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
from rankscope.data.readers import write_trec_run
from rankscope.data.types import Qrels
from rankscope.evaluate.metrics import Run, evaluate
from rankscope.evaluate.rerank import rerank, rerank_pairwise
from rankscope.inspect.health import HEALTH_KEY, score_health
from rankscope.io import atomic_file, read_jsonl
from rankscope.scorers.decoder import PairwiseScorer
from rankscope.scorers.trainable import PairwiseReranker
from rankscope.scorers.trainable import TrainableReranker as Reranker
from rankscope.train.devset import DevSet
from rankscope.train.losses import apply_loss

log = logging.getLogger("rankscope.train")
DEV_RUNS = "dev_runs"
DEV_QRELS = "dev_qrels.txt"


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")


def truncate_jsonl(path: Path, last_step: int) -> None:
    """Drop rows after `last_step` (a resumed run redoes those steps)."""
    if path.is_file():
        rows = [r for r in read_jsonl(path) if r.get("step", 0) <= last_step]
        with atomic_file(path) as tmp:  # a kill here must not lose the rows before the checkpoint
            tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))


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
    reranker: Reranker,
    loss_fn: nn.Module,
    groups: Sequence[Group],
    batch_size: int,
    collate: Callable[[Sequence[Group]], dict[str, Any]] | None = None,
) -> float | None:
    """Mean training objective over held-out groups (no gradients); `collate` as in training (it adds
    the teacher's scores for the distillation losses)."""
    if not groups:
        return None
    collate = collate or reranker.collate
    device = next(reranker.parameters()).device
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(groups), batch_size):
            batch = collate(groups[i : i + batch_size])
            labels = batch.pop("labels").to(device)
            teacher = batch.pop("teacher", None)
            batch.pop("n_tokens")
            inputs = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            scores = reranker(**inputs)
            t = teacher.to(device) if teacher is not None else None
            total += float(apply_loss(loss_fn, scores, labels, t)) * len(labels)
            n += len(labels)
    return total / max(n, 1)


def write_qrels(qrels: Qrels, path: Path) -> None:
    """TREC qrels (`qid 0 docid rel`), written atomically (`atomic_file`)."""
    with atomic_file(path) as tmp:
        tmp.write_text("".join(f"{q} 0 {d} {r}\n" for q, docs in qrels.items() for d, r in docs.items()))


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
    {step, nDCG@10, RR@10, dev_loss, (pairwise_accuracy), health: {score distributions}}, beside it
    dev_runs/step-N.trec and, once, dev_qrels.txt."""

    def __init__(
        self,
        reranker: Reranker,
        loss_fn: nn.Module,
        dev: DevSet,
        path: Path,
        eval_every: int | None = None,
        bf16: bool = False,
        collate: Callable[[Sequence[Group]], dict[str, Any]] | None = None,
    ) -> None:
        self.reranker, self.loss_fn, self.dev, self.path = reranker, loss_fn, dev, path
        self.eval_every, self.bf16, self.collate = eval_every, bf16, collate
        self.done: set[int] = set()
        self.on_metrics: Callable[[dict[str, Any]], None] | None = None
        """also called with each row (training sends it to the Trainer's loggers: TensorBoard, W&B)."""
        self.rows: dict[int, dict[str, Any]] = {}
        self.last: dict[str, Any] | None = None
        """the latest row without its health numbers (summary.json's final_dev)."""
        self.seconds = 0.0
        """time spent evaluating (kept out of the training speed)."""

    def resume(self, rows: Sequence[dict[str, Any]]) -> None:
        """The rows a resumed run keeps from metrics.jsonl."""
        self.rows.clear()  # in place: BestCheckpointCallback reads this dict
        self.rows.update({int(r["step"]): r for r in rows})
        self.done = set(self.rows)
        if self.rows:  # summary.json's final_dev when nothing is left to evaluate
            self.last = {k: v for k, v in self.rows[max(self.rows)].items() if k != HEALTH_KEY}

    def _save_run(self, run: Run, step: int) -> None:
        out = self.path.parent
        qrels = out / DEV_QRELS
        if not qrels.is_file():
            write_qrels(self.dev.qrels, qrels)
        write_trec_run(run, out / DEV_RUNS / f"step-{step}.trec", f"step-{step}")

    def evaluate(self, step: int) -> dict[str, Any]:
        start = time.perf_counter()
        dev, scorer = self.dev, self.reranker.scorer
        row: dict[str, Any] = {"step": step}
        health: dict[str, Any] | None = None
        with eval_mode(self.reranker, self.bf16):
            if dev.qrels:
                if isinstance(self.reranker, PairwiseReranker):
                    top = min(dev.pairwise_top, dev.depth)
                    run = rerank_pairwise(
                        scorer, dev.candidates, dev.queries, top, dev.depth, dev.corpus, False
                    )
                else:
                    run = rerank(scorer, dev.candidates, dev.queries, dev.depth, dev.corpus, False)
                if any(math.isnan(v) for docs in run.values() for v in docs.values()):
                    # an overflowed model: the measures are NaN (never the best checkpoint), no run file
                    log.warning("dev at step %d: the model scores NaN (its numbers overflowed)", step)
                    row.update(dict.fromkeys(dev.measures, math.nan))
                else:
                    row.update(evaluate(run, dev.qrels, dev.measures))
                    health = score_health(run, dev.qrels, dev.min_relevance).as_dict()
                    self._save_run(run, step)
            row["dev_loss"] = dev_loss(self.reranker, self.loss_fn, dev.groups, dev.batch_size, self.collate)
            if isinstance(scorer, PairwiseScorer):
                row["pairwise_accuracy"] = pairwise_accuracy(scorer, dev.groups)
        took = time.perf_counter() - start
        self.seconds += took
        row["seconds"] = round(took, 2)
        self.last = dict(row)
        if health is not None:
            row[HEALTH_KEY] = health
        append_jsonl(self.path, row)
        log.info("dev at step %d: %s", step, {k: v for k, v in self.last.items() if k != "step"})
        self.done.add(step)
        self.rows[step] = row
        if self.on_metrics is not None:
            self.on_metrics(self.last)
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
