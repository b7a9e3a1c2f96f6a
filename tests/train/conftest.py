"""Training fixtures: a small triples file and a spec builder over the tiny models (the tiny BERT folder,
`bert_dir`, is in tests/conftest.py)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rankscope.config import ExperimentSpec, spec_from_dict
from rankscope.train import callbacks
from rankscope.train.run import train

TOPICS = [
    "fleas live a year",
    "goldfish grow in tanks",
    "wifi has a long range",
    "bluetooth pairs devices",
    "cats sleep a lot",
    "dogs bark loudly",
    "trains run on rails",
    "rain falls from clouds",
]


@pytest.fixture(scope="session")
def triples_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "triples.tsv"
    rows = []
    for i, topic in enumerate(TOPICS):
        other = TOPICS[(i + 3) % len(TOPICS)]
        rows += [f"query {topic} {j}\tpassage: {topic} ({j})\tpassage: {other} ({j})" for j in range(2)]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture()
def make_spec(llama_dir: Path, triples_file: Path) -> Callable[..., ExperimentSpec]:
    """A small spec on the tiny Llama; keyword sections are merged over the defaults."""
    base: dict[str, Any] = {
        "model": str(llama_dir),
        "scorer": "yes-no",
        "objective": "listwise",
        "method": {"name": "lora", "rank": 4, "alpha": 8},
        "train": {"files": [str(triples_file)], "group_size": 3, "dev_fraction": 0.25, "seed": 0},
        "dev": {"depth": 5, "at_start": False},
        "optim": {"steps": 3, "batch_size": 2, "lr": 0.02, "save_every": 100, "seed": 0},
        "eval_sets": [],
        "device": "cpu",
    }

    def build(**over: Any) -> ExperimentSpec:
        data = copy.deepcopy(base)
        for key, value in over.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict) and key != "method":
                data[key].update(value)
            else:
                data[key] = value
        return spec_from_dict(data)

    return build


@pytest.fixture(autouse=True)
def _single_thread(one_thread: None) -> None:
    """Every test here runs torch on one thread (tests/conftest.py's one_thread)."""


class Killed(Exception):
    """Raised in place of the process dying."""


@pytest.fixture()
def train_killed(monkeypatch: pytest.MonkeyPatch) -> Callable[[ExperimentSpec, Path, int], None]:
    """`train_killed(spec, out, step)` trains until the dev evaluation after checkpoint `step` is written,
    then dies (Killed) as a killed process would; the real evaluation is back afterwards."""

    def run(spec: ExperimentSpec, out: Path, step: int) -> None:
        real = callbacks.DevEvalCallback.evaluate

        def kill_after(self: callbacks.DevEvalCallback, at: int) -> Any:
            row = real(self, at)
            if at == step:
                raise Killed
            return row

        monkeypatch.setattr(callbacks.DevEvalCallback, "evaluate", kill_after)
        try:
            with pytest.raises(Killed):
                train(spec, out)
        finally:
            monkeypatch.setattr(callbacks.DevEvalCallback, "evaluate", real)

    return run
