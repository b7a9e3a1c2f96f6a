"""The dev callback's pairwise accuracy, computed by hand."""

from __future__ import annotations

from rankscope.data.examples import Group
from rankscope.testing import TablePreferences
from rankscope.train.callbacks import pairwise_accuracy


def test_pairwise_accuracy_by_hand() -> None:
    """Each (better, worse) pair asked in both orders: right when p > 0.5 exactly for the better one first.
    Only `is not None` was checked: 1 - accuracy, or a constant 0.5, passed."""
    table = {("p", "n1"): 0.8, ("n1", "p"): 0.3, ("p", "n2"): 0.4, ("n2", "p"): 0.45}  # 3 of 4 right
    table |= {("b", "a"): 0.9, ("a", "b"): 0.7}  # the positive second in its group: 1 of 2 right
    groups = [
        Group("q1", "query", ("p", "n1", "n2"), (1.0, 0.0, 0.0)),
        Group("q2", "query", ("a", "b"), (0.0, 1.0)),
        Group("q3", "query", ("x", "y"), (1.0, 1.0)),  # equal labels: no pair, never asked
    ]
    assert pairwise_accuracy(TablePreferences(table), groups) == 4 / 6  # type: ignore[arg-type]
    assert pairwise_accuracy(TablePreferences(table), groups[2:]) is None  # type: ignore[arg-type]


def test_a_dev_evaluation_of_nan_scores_is_recorded_not_raised(
    make_spec, tmp_path, monkeypatch, caplog
) -> None:
    """A model whose numbers overflow scores NaN; since NaN scores are refused by the metrics, the dev
    evaluation inside training would have stopped the run with an error: it records NaN measures (never the
    best checkpoint), warns, and training goes on to its end."""
    import math

    import rankscope.train.callbacks as callbacks
    from rankscope.train.run import train

    real = callbacks.rerank

    def overflowing(scorer, candidates, *args, **kw):  # type: ignore[no-untyped-def]
        run = real(scorer, candidates, *args, **kw)
        return {q: dict.fromkeys(docs, math.nan) for q, docs in run.items()}

    monkeypatch.setattr(callbacks, "rerank", overflowing)
    with caplog.at_level("WARNING"):
        res = train(make_spec(optim={"steps": 2, "save_every": 1}, dev={"at_start": True}), tmp_path / "run")
    assert res.steps == 2 and "the model scores NaN" in caplog.text
    rows = [r for r in res.metrics if "nDCG@10" in r]
    assert rows and all(math.isnan(r["nDCG@10"]) for r in rows)
    assert not list((tmp_path / "run" / "dev_runs").glob("*.trec"))
