"""Speed accounting for the benchmarks: this CPU's measured matmul peak and the FLOPs a model runs.

FLOPs count multiply-adds as 2. A decoder forward over a sequence of L real tokens costs
2 * P * L (P: the weights of the linear layers inside the decoder blocks, embeddings and norms
excluded) plus attention, QK^T and AV over the causal half: 2 * layers * d_attn * L * (L + 1), plus the
LM-head rows a scorer computes (2 * hidden per row). Padding is not useful work and is not counted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from rankscope.scorers.base import decoder_body, unwrap


def matmul_peak(dtype: torch.dtype = torch.float32, n: int = 2048, seconds: float = 2.0) -> float:
    """FLOP/s of the best n x n x n GEMM (torch.mm, this process's threads) timed for about `seconds`."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(dtype)
    b = torch.randn(n, n, generator=g).to(dtype)
    c = torch.mm(a, b)  # warm-up: allocation, kernel choice
    best = float("inf")
    end = time.perf_counter() + seconds
    reps = 0
    while reps < 3 or time.perf_counter() < end:
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
        reps += 1
    return 2 * n**3 / best


@dataclass(frozen=True)
class DecoderShape:
    """What the FLOP count needs from a decoder: block linear weights, layers, attention width, hidden."""

    block_params: int
    layers: int
    d_attn: int
    hidden: int

    @classmethod
    def of(cls, model: nn.Module) -> DecoderShape:
        """The shape of a causal LM (PEFT-wrapped or not); LoRA matrices are not counted here."""
        body = decoder_body(model)
        cfg = unwrap(model).config
        params = sum(
            m.weight.numel()
            for name, m in body.layers.named_modules()
            if isinstance(m, nn.Linear) and "lora_" not in name
        )
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        return cls(params, cfg.num_hidden_layers, cfg.num_attention_heads * head_dim, cfg.hidden_size)

    def forward_flops(self, lengths: Sequence[int], head_rows: int = 0, prefix: int = 0) -> float:
        """FLOPs of one forward over sequences of these real lengths, with `head_rows` LM-head rows;
        `prefix`: cached keys/values every sequence also attends to (a prefix KV cache), not run here."""
        tokens = sum(lengths)
        attn = sum(2 * self.layers * self.d_attn * (n * (n + 1) + 2 * n * prefix) for n in lengths)
        return 2.0 * self.block_params * tokens + attn + 2.0 * self.hidden * head_rows


def lora_params(model: nn.Module) -> int:
    """Weights of the LoRA matrices (lora_A, lora_B) in the model."""
    return sum(p.numel() for n, p in model.named_parameters() if "lora_A" in n or "lora_B" in n)


def lora_training_flops(
    shape: DecoderShape, lengths: Sequence[int], n_lora: int, head_rows: int = 0
) -> float:
    """FLOPs of one LoRA training step over sequences of these lengths, frozen base weights.

    Forward: the forward count (base 2P per token) + LoRA 2 * n_lora per token. Backward: gradients
    with respect to activations through every block (2P per token, LoRA 2 * n_lora), no gradients for
    the frozen weights, weight gradients for LoRA only (2 * n_lora per token); attention backward is
    twice its forward. So base 4P per token (a full fine-tune would be 6P), LoRA 6 per weight per token.
    """
    tokens = sum(lengths)
    fwd = shape.forward_flops(lengths, head_rows)
    attn = fwd - 2.0 * shape.block_params * tokens - 2.0 * shape.hidden * head_rows
    return 2 * fwd + attn + 6.0 * n_lora * tokens
