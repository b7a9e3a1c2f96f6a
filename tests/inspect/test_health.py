"""Score health of a dev run and the one-line verdicts: healthy, collapsing scores, overfitting, no gain."""

from __future__ import annotations

import pytest

from rankscope.inspect.health import score_health, verdicts


def test_score_health_of_a_run() -> None:
    run = {"q1": {"p": 3.0, "n1": 1.0, "n2": 2.0}, "q2": {"p": 0.0, "n1": 1.0}, "unjudged": {"x": 9.0}}
    qrels = {"q1": {"p": 1, "n1": 0}, "q2": {"p": 2}}
    h = score_health(run, qrels)
    assert h.queries == 2
    assert h.pos_mean == pytest.approx(1.5) and h.neg_mean == pytest.approx(4 / 3)
    assert h.auc == pytest.approx((1.0 + 0.0) / 2)
    assert h.margin == pytest.approx(((3 - 1.5) + (0 - 1)) / 2)
    assert h.spread == pytest.approx((0.816496580927726 + 0.5) / 2)
    assert score_health({}, qrels).auc is None


def rows(ndcg: list[float], spread: list[float], every: int = 10) -> list[dict]:
    return [
        {"step": i * every, "nDCG@10": m, "health": {"spread": s}}
        for i, (m, s) in enumerate(zip(ndcg, spread, strict=True))
    ]


def losses(values: list[float]) -> list[dict]:
    return [{"step": i + 1, "loss": v} for i, v in enumerate(values)]


FALLING = losses([1.0 - 0.01 * i for i in range(50)])


def test_healthy_run() -> None:
    (v,) = verdicts(rows([0.3, 0.35, 0.4], [1.0, 1.2, 1.1]), FALLING)
    assert (
        v.kind == "healthy"
        and v.line == "healthy (dev nDCG@10 0.3000 -> 0.4000; no collapse, no overfitting)"
    )


def test_collapse_is_dated_at_the_first_evaluation_under_half_the_start_spread() -> None:
    found = verdicts(rows([0.3, 0.35, 0.4, 0.41], [1.0, 0.6, 0.4, 0.1]), FALLING)
    assert [v.kind for v in found] == ["collapse"]
    assert found[0].line.startswith("scores collapsing at step 20")


def test_overfitting_needs_consecutive_falls_of_loss_and_dev_measure() -> None:
    found = verdicts(rows([0.3, 0.5, 0.45, 0.4, 0.35], [1.0] * 5), FALLING)
    assert [v.kind for v in found] == ["overfitting"]
    assert found[0].step == 10 and found[0].line.startswith("overfitting from step 10")
    flat_loss = losses([1.0] * 50)  # the measure falls but the loss does not: not overfitting
    assert verdicts(rows([0.3, 0.5, 0.45, 0.4, 0.35], [1.0] * 5), flat_loss)[0].kind == "healthy"
    once = verdicts(rows([0.3, 0.5, 0.45, 0.5], [1.0] * 4), FALLING)  # one fall only
    assert [v.kind for v in once] == ["healthy"]


def test_a_dip_the_run_recovers_from_is_not_overfitting() -> None:
    """Seed 1 of examples/best-smollm2.yaml: dev RR@10 fell after step 50, then rose above it by step 400."""
    dip = [0.445, 0.485, 0.464, 0.462, 0.470, 0.465, 0.484, 0.491, 0.505]
    assert [v.kind for v in verdicts(rows(dip, [1.0] * 9), FALLING)] == ["healthy"]
    level = [0.3, 0.5, 0.45, 0.4, 0.5]  # back to step 10's value, not above it: still overfitting
    assert verdicts(rows(level, [1.0] * 5), FALLING)[0].line.startswith("overfitting from step 10")
    again = [0.3, 0.5, 0.45, 0.4, 0.6, 0.55, 0.5]  # recovered, then a fall that lasts
    assert verdicts(rows(again, [1.0] * 7, every=5), FALLING)[0].line.startswith("overfitting from step 20")


def test_no_gain_over_zero_shot() -> None:
    found = verdicts(rows([0.293, 0.31, 0.276], [1.0] * 3), FALLING)
    assert [v.kind for v in found] == ["no-gain"]
    assert found[0].line == "no gain over zero-shot (dev nDCG@10 0.2930 at step 0, 0.2760 at step 20)"
    no_zero = [r for r in rows([0.293, 0.31, 0.276], [1.0] * 3) if r["step"]]
    assert verdicts(no_zero, FALLING)[0].kind == "healthy"  # without a step-0 row nothing to compare


def test_measure_can_be_named() -> None:
    r = [{**row, "RR@10": 0.5 - 0.1 * i} for i, row in enumerate(rows([0.3, 0.35, 0.4], [1.0] * 3))]
    assert verdicts(r, FALLING, measure="RR@10")[-1].kind == "no-gain"


def test_without_a_zero_shot_row_the_line_says_so() -> None:
    no_zero = [r for r in rows([0.5, 0.6, 0.4], [1.0] * 3) if r["step"]]
    (v,) = verdicts(no_zero, FALLING)
    assert (
        v.line
        == "healthy (dev nDCG@10 0.6000 -> 0.4000 (no zero-shot row to compare); no collapse, no overfitting)"
    )
