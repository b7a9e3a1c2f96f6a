"""The best checkpoint by a dev measure: copied to RUN/best/ as soon as it is saved (so checkpoint
rotation cannot delete it), checked again at the end of the run, recorded in summary.json.

Only states that were saved count (checkpoints and the final adapter), never step 0 (the zero-shot
model has no adapter). On a tie the later step wins: equal dev quality, more training, and the final
adapter stays the default where nothing beats it.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from rankscope.train.checksums import CHECKSUMS
from rankscope.train.trainer import PROGRESS_FILE
from rankscope.trained import BEST_DIR, saved_states

log = logging.getLogger("rankscope.train")
BEST_INFO = "best.json"
_NOT_COPIED = (
    "optimizer.pt",
    "scheduler.pt",
    "rng_state*",
    "trainer_state.json",
    "training_args.bin",
    PROGRESS_FILE,
    CHECKSUMS,
)
"""the trainer's files, and the checkpoint's checksums (which list them)"""
LOWER_IS_BETTER = {"dev_loss"}


@dataclass
class BestCheckpoint:
    step: int
    measure: str
    value: float
    folder: str
    """the run's copy of it (RUN/best)."""
    source: str
    """where it was copied from: checkpoints/checkpoint-N or adapter."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def better(value: float, than: float | None, measure: str) -> bool:
    """At least as good as `than` (ties: the later step wins)."""
    if than is None:
        return True
    return value <= than if measure in LOWER_IS_BETTER else value >= than


def best_row(rows: Iterable[Mapping[str, Any]], measure: str, steps: set[int]) -> Mapping[str, Any] | None:
    """The row of `steps` (saved states) with the best finite `measure`; later steps win ties."""
    best: Mapping[str, Any] | None = None
    for row in sorted(rows, key=lambda r: int(r["step"])):
        value = row.get(measure)
        if int(row["step"]) not in steps or not isinstance(value, int | float) or not math.isfinite(value):
            continue
        if best is None or better(float(value), float(best[measure]), measure):
            best = row
    return best


def read_best(out: Path) -> BestCheckpoint | None:
    info = out / BEST_DIR / BEST_INFO
    if not info.is_file():
        return None
    return BestCheckpoint(**json.loads(info.read_text()))


def keep_best(src: Path, out: Path, step: int, measure: str, value: float) -> BestCheckpoint:
    """Copy the adapter files of `src` to RUN/best (atomically) with best.json naming its step."""
    from rankscope.io import atomic_dir

    dest = out / BEST_DIR
    source = str(src.relative_to(out)) if src.is_relative_to(out) else str(src)
    best = BestCheckpoint(step, measure, float(value), str(dest), source)
    with atomic_dir(dest, overwrite=True) as tmp:  # swapped by renames: a kill leaves one whole RUN/best
        shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(*_NOT_COPIED), dirs_exist_ok=True)
        (tmp / BEST_INFO).write_text(json.dumps(best.as_dict(), indent=2) + "\n")
    return best


def settle_best(
    out: Path, rows: Iterable[Mapping[str, Any]], measure: str, final_step: int | None
) -> BestCheckpoint | None:
    """At the end of a run: the best of the saved states and RUN/best's own step, copied if RUN/best
    does not hold it yet. `final_step` is None when the final adapter is not the trained state."""
    rows = list(rows)
    current = read_best(out)
    states = saved_states(out, final_step)
    steps = set(states) | ({current.step} if current and current.measure == measure else set())
    row = best_row(rows, measure, steps)
    if row is None:
        return None
    step = int(row["step"])
    if current is not None and current.step == step and current.measure == measure:
        return current
    return keep_best(states[step], out, step, measure, float(row[measure]))


class BestCheckpointCallback(TrainerCallback):
    """After each checkpoint's dev evaluation (DevEvalCallback runs first), copies it to RUN/best when it
    is the best so far."""

    def __init__(self, out: Path, measure: str, rows: Mapping[int, Mapping[str, Any]]) -> None:
        self.out, self.measure, self.rows = out, measure, rows
        self.best: BestCheckpoint | None = None

    def resume(self, done: int) -> None:
        """A resumed run keeps RUN/best when it comes from a step the run has not redone."""
        best = read_best(self.out)
        self.best = best if best is not None and best.step <= done and best.measure == self.measure else None

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        if not state.is_world_process_zero:
            return
        self.consider(state.global_step, Path(args.output_dir) / f"checkpoint-{state.global_step}")

    def consider(self, step: int, folder: Path) -> None:
        """Copy `folder` (the checkpoint of `step`) to RUN/best when its dev row is the best so far (also
        what a resumed run does for the checkpoint it starts from: a kill may have cut this short)."""
        row = self.rows.get(step)
        value = row.get(self.measure) if row else None
        if not folder.is_dir() or not isinstance(value, int | float) or not math.isfinite(value):
            return
        if better(float(value), self.best.value if self.best else None, self.measure):
            self.best = keep_best(folder, self.out, step, self.measure, float(value))
            log.info("best checkpoint so far: step %d (%s %.4f)", step, self.measure, value)
