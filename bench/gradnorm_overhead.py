"""Cost of per-step gradient-norm logging (GradNormCallback) in a LoRA training loop.

Baseline: the same loop without the callback. The loop does what transformers' Trainer does per
optimizer step: forward, backward, clip_grad_norm_, optimizer step, zero_grad; the measured variant
adds the callback's `on_pre_optimizer_step` between clipping and the step (exactly where the Trainer
calls it), with its default flush (one host copy per 64 steps) and, separately, flushing every step
(one device sync per step). The model is a random-weight Llama (default 8 layers, hidden 256) with
LoRA r=8 on all linear projections. Blocks of steps with and without the hook are interleaved so drift
(clocks, caches, other processes) hits both equally; the ratio of the median block times is printed,
in wall-clock time on a GPU and in this process's CPU time on the CPU (so other processes on a shared
machine do not inflate it; use --threads 1 there).

    .venv/bin/python bench/gradnorm_overhead.py [--device cuda] [--blocks 20 --block-steps 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from types import SimpleNamespace

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from rankscope.inspect.gradnorms import GradGroups, GradNormCallback


def build(args: argparse.Namespace, device: str) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        intermediate_size=args.hidden * 8 // 3,
        num_hidden_layers=args.layers,
        num_attention_heads=max(1, args.hidden // 64),
        num_key_value_heads=max(1, args.hidden // 256),
        max_position_embeddings=max(512, args.seq),
    )
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = LlamaForCausalLM(cfg).to(device=device, dtype=dtype)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(model, LoraConfig(r=args.rank, lora_alpha=2 * args.rank, target_modules=targets))
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()  # LoRA weights in fp32, as the training command keeps them
    return model.train()


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def run_block(
    model, opt, batch, steps: int, hook: GradNormCallback | None, device: str, step0: int
) -> tuple[float, float]:
    """(seconds per step, seconds per step spent inside the hook); on CPU both are this process's CPU
    time, which other processes on a shared machine do not inflate (run with --threads 1)."""
    clock = time.perf_counter if device == "cuda" else time.process_time
    sync(device)
    start = clock()
    in_hook = 0.0
    for i in range(steps):
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if hook is not None:
            t0 = clock()
            hook.on_pre_optimizer_step(None, SimpleNamespace(global_step=step0 + i), None)
            in_hook += clock() - t0
        opt.step()
        opt.zero_grad(set_to_none=True)
    sync(device)
    return (clock() - start) / steps, in_hook / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--batch", type=int, default=None, help="default 8 on GPU, 4 on CPU")
    ap.add_argument("--seq", type=int, default=None, help="default 256 on GPU, 128 on CPU")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (torch's default if unset)")
    ap.add_argument("--blocks", type=int, default=20)
    ap.add_argument("--block-steps", type=int, default=20)
    args = ap.parse_args()
    device = args.device
    args.batch = args.batch or (8 if device == "cuda" else 4)
    args.seq = args.seq or (256 if device == "cuda" else 128)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = build(args, device)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    gen = torch.Generator().manual_seed(0)
    batch = torch.randint(0, args.vocab, (args.batch, args.seq), generator=gen).to(device)
    hooks = {
        "none": None,
        "flush64": GradNormCallback("/tmp", flush_every=64),
        "flush1": GradNormCallback("/tmp", 1),
    }
    groups = GradGroups.build(model)
    for h in hooks.values():
        if h is not None:
            h.groups = groups
    run_block(model, opt, batch, 5, hooks["flush1"], device, 0)  # warm-up (kernels, allocator, indices)
    times: dict[str, list[float]] = {k: [] for k in hooks}
    inside: dict[str, list[float]] = {k: [] for k in hooks}
    step = 0
    for b in range(args.blocks):
        order = list(hooks) if b % 2 == 0 else list(reversed(hooks))
        for name in order:
            per_step, per_hook = run_block(model, opt, batch, args.block_steps, hooks[name], device, step)
            times[name].append(per_step)
            inside[name].append(per_hook / per_step)
            step += args.block_steps
    med = {k: statistics.median(v) for k, v in times.items()}
    share = {k: statistics.median(v) for k, v in inside.items()}
    n_params = sum(1 for p in model.parameters() if p.requires_grad)
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    print(f"device {name}, {args.layers} layers, hidden {args.hidden}, LoRA r={args.rank} on 7 projections")
    print(f"{n_params} trainable tensors, batch {args.batch} x {args.seq} tokens")
    print(f"{args.blocks} interleaved blocks of {args.block_steps} steps per variant")
    print(f"{'variant':<34}{'ms/step':>10}{'ratio':>10}{'in hook':>10}")
    print(f"{'baseline: no grad-norm logging':<34}{med['none'] * 1e3:>10.2f}{1.0:>10.4f}{'-':>10}")
    for key, label in (
        ("flush64", "GradNormCallback (default)"),
        ("flush1", "GradNormCallback, sync every step"),
    ):
        print(f"{label:<34}{med[key] * 1e3:>10.2f}{med[key] / med['none']:>10.4f}{share[key]:>10.2%}")
    kind = "wall-clock" if device == "cuda" else "process CPU"
    print(
        f"ratio: median {kind} time per block / the baseline's; in hook: share of step time in the callback"
    )
    print("(on a GPU the hook's host time overlaps queued kernels, so there the ratio is the measure)")
    rows = len(hooks["flush64"].history().steps) + len(hooks["flush1"].history().steps)
    print(f"overhead (default): {(med['flush64'] / med['none'] - 1) * 100:+.2f}% (target <= 3%); rows {rows}")


if __name__ == "__main__":
    main()
