"""runtime: glibc's mmap threshold, so freed activations go back to the OS."""

from __future__ import annotations

import platform
import sys

import pytest

from rankscope.runtime import return_freed_memory


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_mmap_threshold_is_set_on_glibc() -> None:
    assert return_freed_memory() is True
    assert return_freed_memory(1 << 21) is True  # idempotent, any threshold


def test_zero_threshold_keeps_glibc_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from rankscope.runtime import MMAP_THRESHOLD_ENV

    monkeypatch.setenv(MMAP_THRESHOLD_ENV, "0")
    assert return_freed_memory() is False


def test_bad_threshold_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from rankscope.errors import InputError
    from rankscope.runtime import MMAP_THRESHOLD_ENV

    monkeypatch.setenv(MMAP_THRESHOLD_ENV, "lots")
    with pytest.raises(InputError, match=MMAP_THRESHOLD_ENV):
        return_freed_memory()


def test_environment_names_what_decides_the_arithmetic() -> None:
    import torch

    from rankscope.runtime import ENVIRONMENT_KEYS, environment, environment_changes

    env = environment("cpu", False)
    assert tuple(env) == ENVIRONMENT_KEYS
    assert env["torch"] == torch.__version__ and env["threads"] == torch.get_num_threads()
    assert env["device"] == "cpu" and env["bf16"] is False and env["transformers"] != "absent"
    assert environment_changes(env, dict(env)) == []
    other = {**env, "threads": env["threads"] + 1, "torch": "0.0"}
    assert environment_changes(env, other) == [
        f"torch: {env['torch']} -> 0.0",
        f"threads: {env['threads']} -> {env['threads'] + 1}",
    ]


def test_pick_device_names_a_bad_device() -> None:
    from rankscope.errors import InputError
    from rankscope.runtime import pick_device

    assert pick_device("cpu") == "cpu"
    with pytest.raises(InputError, match="device: unknown device 'bogus'"):
        pick_device("bogus", "device")
