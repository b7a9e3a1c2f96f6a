"""`data:NAME` paths resolve inside the data folder, never outside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from rankscope.data.registry import resolve_data_path
from rankscope.errors import InputError


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    (data / "set").mkdir(parents=True)
    (data / "set" / "train.jsonl").write_text("{}\n")
    (tmp_path / "secret.txt").write_text("no\n")
    monkeypatch.setenv("RANKSCOPE_DATA", str(data))
    return data.resolve()


@pytest.mark.parametrize(
    ("value", "inside"),
    [
        ("data:set/train.jsonl", "set/train.jsonl"),
        ("data:set/../set/train.jsonl", "set/train.jsonl"),
        ("data:./set", "set"),
        ("data:not/there/yet.jsonl", "not/there/yet.jsonl"),  # need not exist: the caller checks
    ],
)
def test_inside(root: Path, value: str, inside: str) -> None:
    assert resolve_data_path(value) == root / inside


@pytest.mark.parametrize(
    "value",
    [
        "data:../../etc/passwd",
        "data:../secret.txt",
        "data:set/../../secret.txt",
        "data:/etc/passwd",
        "data:set/../../data-other/x",
    ],
)
def test_outside_refused(root: Path, value: str) -> None:
    with pytest.raises(InputError, match="resolves outside the data folder"):
        resolve_data_path(value)


def test_symlink_out_refused(root: Path) -> None:
    (root / "set" / "link").symlink_to(root.parent / "secret.txt")
    with pytest.raises(InputError, match="outside the data folder"):
        resolve_data_path("data:set/link")


@pytest.mark.parametrize("value", ["data:", "data:  ", "set/train.jsonl", "data:a\x00b"])
def test_malformed(root: Path, value: str) -> None:
    with pytest.raises(InputError):
        resolve_data_path(value)
