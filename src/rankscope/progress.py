"""Progress on stderr: a rich bar on a terminal, plain timed lines anywhere else (a log file under nohup).

rich redraws its bar only on a terminal; written to a file it prints the bar once, when the work is done,
so a long background rerank showed nothing for half an hour. Off a terminal, `LineProgress` writes one
line per stage at most every `every` seconds, and one when the stage completes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

EVERY_SECONDS = 30.0
"""How often, at most, a stage writes a progress line when stderr is not a terminal."""


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class LineProgress:
    """Progress of named stages as plain lines: `label: done/total (pct), elapsed, ~remaining left`."""

    def __init__(
        self,
        stream: TextIO,
        every: float = EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream, self.every, self.clock = stream, every, clock
        self._start: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._done: dict[str, int] = {}

    def update(self, label: str, done: int, total: int) -> None:
        """Record that `done` of `total` items of stage `label` are finished; write a line when due."""
        now = self.clock()
        start = self._start.setdefault(label, now)
        finished = total > 0 and done >= total
        due = finished or now - self._last.get(label, start) >= self.every
        if self._done.get(label) == done or not due:
            self._done[label] = done
            return
        self._done[label], self._last[label] = done, now
        elapsed = now - start
        line = f"{label}: {done}/{total}"
        if total > 0:
            line += f" ({done / total:.0%}), {_clock(elapsed)} elapsed"
            if 0 < done < total:
                line += f", ~{_clock(elapsed * (total - done) / done)} left"
        self.stream.write(line + "\n")
        self.stream.flush()

    def advance(self, label: str, total: int) -> Callable[[int], None]:
        """A function adding `n` finished items to stage `label`."""
        self.update(label, 0, total)

        def step(n: int) -> None:
            self.update(label, self._done.get(label, 0) + n, total)

        return step


def _console() -> Console:
    return Console(stderr=True)  # stdout stays for data


@contextmanager
def progress_bar(label: str, total: int, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Progress of one stage; yields the function that advances it by `n` items."""
    if not enabled:
        yield lambda n: None
        return
    console = _console()
    if not console.is_terminal:
        yield LineProgress(console.file).advance(label, total)
        return
    cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*cols, transient=False, console=console) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def stage_bars() -> Iterator[Callable[[str, int, int], None]]:
    """Progress of several stages; yields `progress(stage, done, total)` setting a stage's count."""
    console = _console()
    if not console.is_terminal:
        yield LineProgress(console.file).update
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, object] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)  # type: ignore[arg-type]

        yield progress
