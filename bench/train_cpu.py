"""SmolLM2 LoRA training speed through rankscope's trainer path, against this CPU's measured matmul peak.

The run is what `rankscope train` does per step (spec -> training groups -> backbone + LoRA -> trainable
reranker -> RankTrainer with transformers' TrainingArguments, bf16 autocast where the CPU has native
bf16), on real MS MARCO training groups (1 positive + hard negatives, documents cut at the spec's
192 tokens), without dev evaluation or checkpoints. The first step (warm-up) is not timed.

FLOPs (rankscope.speed.lora_training_flops), per real token: the frozen base costs 2P forward and 2P
backward through the activations (no weight gradients: 4P, where a full fine-tune costs 6P), LoRA's
own matrices 6 per weight (forward, activation and weight gradients), attention over the causal half
3x its forward, the yes/no head rows likewise; padding is not counted. The last line:
`training: N tokens/s, X% of this CPU's measured matmul peak` (the peak of the dtype the matmuls run in).

Also in the same run: the same steps with batches sorted by length and run in chunks cut to their own
width (`TrainableReranker.tight_batches = True`, `rankscope.scorers.trainable.tight_chunks`: an opt-in)
against the default, every sequence of a step padded to the step's longest; the last line is the
default's.

    .venv/bin/python bench/train_cpu.py [--steps 6] [--peak-seconds 2]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from transformers import PrinterCallback, TrainerCallback

from rankscope.config import spec_from_dict
from rankscope.runtime import cpu_has_bf16, cpu_vector_isa, use_bf16
from rankscope.speed import DecoderShape, lora_params, lora_training_flops, matmul_peak
from rankscope.train.data import GroupDataset, build_training_set
from rankscope.train.losses import build_loss
from rankscope.train.run import build_reranker_for
from rankscope.train.trainer import RankTrainer, training_arguments

TRAIN_FILE = "data:msmarco-passage-train-samples/bge_msmarco_hardneg_10q.jsonl"


class CountingTrainer(RankTrainer):
    """RankTrainer that keeps the real length of every sequence each step ran."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.lengths: list[list[int]] = []

        self.run_tokens: list[int] = []

    def compute_loss(self, model: Any, inputs: dict[str, Any], *a: Any, **kw: Any) -> Any:
        mask = inputs["attention_mask"]
        self.lengths.append(mask.sum(1).tolist())
        bounds = inputs.get("bounds")
        if bounds is None:
            self.run_tokens.append(int(mask.numel()))
        else:  # each chunk runs at its first (longest) row's width
            self.run_tokens.append(sum((b - a) * int(mask[a].sum()) for a, b in bounds.tolist()))
        return super().compute_loss(model, inputs, *a, **kw)


class StepClock(TrainerCallback):
    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.ends.append(time.perf_counter())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--steps", type=int, default=6, help="timed steps (one more runs first as warm-up)")
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=2, help="groups per step")
    ap.add_argument("--peak-seconds", type=float, default=2.0)
    args = ap.parse_args()
    peak = {torch.float32: matmul_peak(torch.float32, seconds=args.peak_seconds)}
    if cpu_has_bf16():
        peak[torch.bfloat16] = matmul_peak(torch.bfloat16, seconds=args.peak_seconds)
    spec = spec_from_dict(
        {
            "model": args.model,
            "scorer": "yes-no",
            "objective": "listwise",
            "method": {"name": "lora", "rank": 8, "alpha": 16, "targets": ["attn", "mlp"]},
            "train": {"files": [TRAIN_FILE], "group_size": args.group_size, "dev_fraction": 0.0},
            "optim": {
                "steps": args.steps + 1,
                "batch_size": args.batch_size,
                "grad_accum": 1,
                "warmup": 0,
                "save_every": 10_000,
            },
            "eval_sets": [],
            "device": "cpu",
            "max_doc_tokens": 192,
        }
    )
    bf16 = use_bf16(spec.optim.bf16, "cpu")
    data = build_training_set(spec.train, [], pointwise=False)
    tight = run(spec, data.train, bf16, tight=True)
    trainer, seconds, model = run(spec, data.train, bf16, tight=False)
    shape, n_lora = DecoderShape.of(model), lora_params(model)
    timed = trainer.lengths[1:]  # step 0 is the warm-up
    tokens = sum(sum(s) for s in timed)
    flops = sum(lora_training_flops(shape, s, n_lora, head_rows=8 * len(s)) for s in timed)
    dtype = torch.bfloat16 if bf16 else torch.float32
    rate = flops / seconds
    pct = 100 * rate / peak[dtype]
    print(
        f"machine: {platform.machine()} {cpu_vector_isa()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}"
    )
    print(
        "matmul peak (2048^3 GEMM, best of the run): "
        + ", ".join(f"{str(k).removeprefix('torch.')} {v / 1e9:.1f} GFLOP/s" for k, v in peak.items())
    )
    print(
        f"run: {args.model} yes/no + LoRA r=8 (attn+mlp, {n_lora / 1e6:.2f}M weights over "
        f"{shape.block_params / 1e6:.1f}M frozen block weights), {len(timed)} timed steps of "
        f"{args.batch_size} groups x {args.group_size}, {'bf16 autocast' if bf16 else 'float32'}"
    )
    print(
        f"per step: {tokens / len(timed):.0f} real tokens in {seconds / len(timed):.2f}s; "
        f"{flops / tokens / 1e6:.1f} MFLOP per token (4P + 6 x LoRA + attention + head)"
    )
    tight_tokens = sum(sum(s) for s in tight[0].lengths[1:])
    assert tight_tokens == tokens, "the two runs must train on the same sequences"
    for label, (tr, secs, _) in (
        ("padded batches (default)", (trainer, seconds, model)),
        ("tight batches (opt-in)", tight),
    ):
        ran = sum(tr.run_tokens[1:])
        print(
            f"{label}: {secs / len(timed):.2f}s per step, {ran / len(timed):.0f} tokens run per step "
            f"({100 * (ran - tokens) / ran:.1f}% padding), {tokens / secs:.0f} real tokens/s"
        )
    print(f"tight vs padded batches: {seconds / tight[1]:.2f}x")
    print(f"achieved: {rate / 1e9:.1f} GFLOP/s")
    print(f"training: {tokens / seconds:.0f} tokens/s, {pct:.1f}% of this CPU's measured matmul peak")


def run(spec: Any, groups: list[Any], bf16: bool, tight: bool) -> tuple[CountingTrainer, float, Any]:
    """Train the spec's steps; the trainer (its per-step lengths), the timed seconds and the model."""
    _, reranker = build_reranker_for(spec, "cpu", bf16)
    reranker.tight_batches = tight
    loss_fn = build_loss([(o.name, o.weight) for o in spec.objectives], spec.train.min_relevance, 1.0)
    clock = StepClock()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = CountingTrainer(
            model=reranker,
            loss_fn=loss_fn,
            args=training_arguments(spec, Path(tmp), "cpu", bf16),
            train_dataset=GroupDataset(groups),
            callbacks=[clock],
        )
        trainer.remove_callback(PrinterCallback)
        trainer.train()
    return trainer, clock.ends[-1] - clock.ends[0], reranker.scorer.model  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
