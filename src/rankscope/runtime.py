"""Device and dtype choices: the leaf every other module asks (no rankscope imports but errors)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch

from rankscope.errors import InputError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pick_device(device: str = "auto", option: str = "--device") -> str:
    """ "auto": CUDA when there is a GPU, else the CPU; an explicit CUDA device must exist."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise InputError(f"unknown device '{device}': expected auto, cpu, cuda or cuda:N", option) from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise InputError("CUDA is not available on this machine", option)
    return device


NO_BF16_ENV = "RANKSCOPE_NO_BF16"
"""Set to 1 to treat the CPU as one without native bf16 (float32 weights and no bf16 autocast where the
settings say "auto"): how an AVX2-only machine runs, e.g. to time the demo as it runs there."""


def cpu_has_bf16() -> bool:
    """True where the CPU has native bf16 matrix instructions (AVX512-BF16 or AMX), unless
    $RANKSCOPE_NO_BF16 is set (to anything but "", "0")."""
    if os.environ.get(NO_BF16_ENV, "") not in ("", "0"):
        return False
    return _cpu_flags_bf16()


@functools.cache
def _cpu_flags_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cpu_vector_isa() -> str:
    """A short name of the CPU's widest matrix instructions, for benchmark and results lines."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    if "amx_bf16" in flags:
        return "AMX + AVX512-BF16"
    if "avx512_bf16" in flags:
        return "AVX512-BF16"
    if "avx512f" in flags:
        return "AVX512 (no native bf16)"
    return "AVX2-only" if "avx2" in flags else "no AVX2"


ENVIRONMENT_KEYS = ("python", "torch", "transformers", "peft", "threads", "cpu", "device", "bf16")
"""What `environment` records: what decides a run's floating-point arithmetic. CPU float sums depend on
the thread count and the kernels' instruction set, so the same spec and seed can train to different
checkpoints on another machine, thread count or library version."""


def environment(device: str, bf16: bool) -> dict[str, str | int | bool]:
    """The software and hardware a run computes with (versions, torch threads, CPU instructions, device)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def ver(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "absent"

    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") and torch.cuda.is_available() else None
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": ver("transformers"),
        "peft": ver("peft"),
        "threads": torch.get_num_threads(),
        "cpu": cpu_vector_isa(),
        "device": f"{device} ({gpu})" if gpu else device,
        "bf16": bf16,
    }


def environment_changes(before: dict, now: dict) -> list[str]:
    """'key: old -> new' for each recorded setting that differs between two `environment` records."""
    return [f"{k}: {before.get(k)} -> {now.get(k)}" for k in ENVIRONMENT_KEYS if before.get(k) != now.get(k)]


def pick_dtype(dtype: str, device: str) -> torch.dtype:
    """ "auto": bf16 on CUDA and on CPUs with native bf16, float32 elsewhere."""
    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") or cpu_has_bf16() else torch.float32
    if dtype not in DTYPES:
        raise InputError(f"unknown dtype '{dtype}': expected auto, {', '.join(DTYPES)}", "--dtype")
    return DTYPES[dtype]


def use_bf16(setting: str | bool, device: str) -> bool:
    """bf16 autocast: "auto" means on CUDA GPUs that support it and on CPUs with native bf16 instructions
    (AVX512-BF16/AMX: 2.4x the float32 training speed of SmolLM2 LoRA); elsewhere float32."""
    if setting == "auto":
        if device.startswith("cuda"):
            return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return cpu_has_bf16()
    return bool(setting)


MMAP_THRESHOLD_ENV = "RANKSCOPE_MMAP_THRESHOLD"
"""Bytes from which allocations are mmapped (see return_freed_memory); 0 leaves glibc's default."""


def return_freed_memory(threshold: int | None = None) -> bool:
    """glibc only: serve allocations of `threshold` bytes and more (activations, scoring batches) by mmap,
    so that freeing them hands the memory back. By default glibc raises that threshold as large blocks are
    freed and then keeps them in its heap: training and scoring in turns then hold twice the memory they
    use (2.2 GB instead of 1.1 GB peak RSS for the demo). The price is page faults on every large
    allocation (CPU time). Default: $RANKSCOPE_MMAP_THRESHOLD, else 1 MiB; 0 keeps glibc's behaviour.
    Returns whether the setting took."""
    import ctypes
    import ctypes.util
    import sys

    if threshold is None:
        value = os.environ.get(MMAP_THRESHOLD_ENV) or str(1 << 20)
        if not value.strip().isdigit():
            from rankscope.errors import InputError

            raise InputError(f"expected a number of bytes, got '{value}'", f"${MMAP_THRESHOLD_ENV}")
        threshold = int(value)
    if threshold <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_mmap_threshold = -3  # malloc.h; setting it also turns off glibc's dynamic threshold
        return bool(libc.mallopt(m_mmap_threshold, threshold))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
