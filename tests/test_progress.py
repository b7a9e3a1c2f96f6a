"""Progress off a terminal: timed plain lines, not one rich bar printed when the work is done."""

from __future__ import annotations

import io

import pytest

from rankscope.progress import LineProgress, progress_bar, stage_bars


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_are_written_at_most_every_interval_and_at_the_end() -> None:
    out, clock = io.StringIO(), Clock()
    advance = LineProgress(out, every=30.0, clock=clock).advance("scoring", 100)
    for _ in range(10):  # 10 items, 10 s apart: due at 30 s, 60 s, 90 s, then the last at 100 s
        clock.now += 10.0
        advance(10)
    lines = out.getvalue().splitlines()
    assert lines == [
        "scoring: 30/100 (30%), 0:00:30 elapsed, ~0:01:10 left",
        "scoring: 60/100 (60%), 0:01:00 elapsed, ~0:00:40 left",
        "scoring: 90/100 (90%), 0:01:30 elapsed, ~0:00:10 left",
        "scoring: 100/100 (100%), 0:01:40 elapsed",
    ]


def test_stages_are_timed_apart_and_a_repeated_count_is_not_written_twice() -> None:
    out, clock = io.StringIO(), Clock()
    update = LineProgress(out, every=30.0, clock=clock).update
    update("probes", 0, 4)
    update("attention", 0, 2)
    clock.now = 31.0
    update("probes", 1, 4)
    update("attention", 2, 2)
    update("attention", 2, 2)
    assert out.getvalue().splitlines() == [
        "probes: 1/4 (25%), 0:00:31 elapsed, ~0:01:33 left",
        "attention: 2/2 (100%), 0:00:31 elapsed",
    ]


def test_off_a_terminal_the_context_managers_write_lines_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with progress_bar("scoring (toy)", 3) as advance:
        advance(3)
    with stage_bars() as progress:
        progress("probes", 5, 5)
    with progress_bar("hidden", 3, enabled=False) as advance:
        advance(3)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "scoring (toy): 3/3 (100%), 0:00:00 elapsed",
        "probes: 5/5 (100%), 0:00:00 elapsed",
    ]
