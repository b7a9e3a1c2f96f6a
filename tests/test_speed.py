"""FLOP accounting and the matmul peak the speed benchmarks report against."""

from __future__ import annotations

import copy

import torch
from peft import LoraConfig, get_peft_model

from rankscope.speed import DecoderShape, lora_params, lora_training_flops, matmul_peak


def test_matmul_peak_is_a_positive_rate() -> None:
    assert 1e6 < matmul_peak(torch.float32, n=64, seconds=0.01) < 1e15


def test_decoder_shape_counts_block_linears(llama) -> None:
    shape = DecoderShape.of(llama)
    h, kv = 32, 2 * 8  # hidden 32, 4 heads of 8, 2 kv heads, MLP 64, 2 layers
    per_layer = h * h + 2 * h * kv + h * h + 3 * h * 64
    assert shape == DecoderShape(2 * per_layer, 2, 32, 32)
    flops = shape.forward_flops([3, 5], head_rows=8)
    assert flops == 2 * shape.block_params * 8 + 2 * 2 * 32 * (3 * 4 + 5 * 6) + 2 * 32 * 8
    cached = shape.forward_flops([1, 3], head_rows=8, prefix=2)  # the same tokens, 2 of each from a cache
    assert cached == 2 * shape.block_params * 4 + 2 * 2 * 32 * (1 * 2 + 4 + 3 * 4 + 12) + 2 * 32 * 8


def test_lora_training_flops_count_frozen_base_twice_and_lora_three_times(llama) -> None:
    plain = DecoderShape.of(llama)
    peft = get_peft_model(copy.deepcopy(llama), LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    shape = DecoderShape.of(peft)
    assert shape == plain  # the frozen base only
    n_lora = lora_params(peft)
    assert n_lora == 2 * (2 * (32 + 32) + 2 * (32 + 16))  # 2 layers x (q: 32->32, v: 32->16), rank 2
    fwd = shape.forward_flops([10])
    attn = fwd - 2 * shape.block_params * 10
    assert lora_training_flops(shape, [10], n_lora) == 4 * shape.block_params * 10 + 3 * attn + 60 * n_lora
