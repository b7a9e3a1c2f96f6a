"""The sensitivity of a paired comparison: the smallest delta its queries can show, and the queries needed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from rankscope.errors import InputError
from rankscope.evaluate.compare import compare_values
from rankscope.evaluate.power import (
    MAX_QUERIES,
    format_power,
    power_table,
    queries_for_power,
    sensitivity,
    t_test_power,
)


def test_the_smallest_detectable_delta_gives_p_equal_to_alpha() -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(size=43)
    noise = (noise - noise.mean()) / noise.std(ddof=1) * 0.05  # sd 0.05, mean 0
    sd, smallest, _ = sensitivity(noise + 0.01)
    assert sd == pytest.approx(0.05)
    assert stats.ttest_1samp(noise + smallest, 0).pvalue == pytest.approx(0.05, abs=1e-9)
    assert stats.ttest_1samp(noise + smallest * 1.01, 0).pvalue < 0.05


def test_power_matches_a_simulation_and_a_published_sample_size() -> None:
    rng = np.random.default_rng(1)
    sims = rng.normal(loc=0.5, size=(20000, 20))  # effect 0.5 sd, 20 queries
    simulated = (stats.ttest_1samp(sims, 0, axis=1).pvalue < 0.05).mean()
    assert t_test_power(0.5, 20) == pytest.approx(simulated, abs=0.01)
    # G*Power, one-sample t, two-tailed, d = 0.5, alpha 0.05, power 0.8: 34 (actual power 0.808)
    assert queries_for_power(0.5) == 34 and queries_for_power(-0.5) == 34
    n = queries_for_power(0.1)
    assert n is not None and t_test_power(0.1, n) >= 0.8 > t_test_power(0.1, n - 1)


def test_degenerate_deltas() -> None:
    assert sensitivity([0.0, 0.0, 0.0])[2] is None  # nothing to find
    assert sensitivity([0.02, 0.02, 0.02])[2] == 2  # every query moved alike
    sd, smallest, needed = sensitivity([0.1])
    assert math.isnan(sd) and math.isnan(smallest) and needed is None
    assert queries_for_power(1e-6) is None  # beyond any test collection
    with pytest.raises(InputError, match="power"):
        queries_for_power(0.5, power=1.0)


def test_a_table_row_per_comparison() -> None:
    base = {"nDCG@10": {f"q{i}": 0.5 for i in range(30)}}
    run = {"nDCG@10": {f"q{i}": 0.5 + (0.1 if i % 2 else -0.02) for i in range(30)}}
    result = compare_values([base, run], ["base", "run"], n_boot=50)
    (row,) = power_table(result)
    assert (row.measure, row.run, row.queries) == ("nDCG@10", "run", 30)
    assert row.delta == pytest.approx(0.04) and row.queries_needed is not None and row.queries_needed < 30
    assert set(row.to_json()) >= {"sd_delta", "min_detectable", "queries_needed"}
    text = format_power([row])
    assert "these 30 queries needs |delta| >=" in text and f"{row.queries_needed:,} queries" in text


def test_deltas_of_float_rounding_are_ties_as_for_the_p_value() -> None:
    """The same seeds listed in another order differ by 1e-17 a query: compare said p = 1 and all ties, and
    the power line said the observed -0.0000 needed 128 queries."""
    rng = np.random.default_rng(0)
    deltas = rng.normal(0, 1e-16, 50)
    sd, smallest, needed = sensitivity(deltas)
    assert sd == 0 and smallest == 0 and needed is None


def test_the_query_cap_itself_is_tried() -> None:
    """Doubling from 2 stepped from 2**23 past the 10M cap: an effect needing about 9.7M queries read None."""
    effect = math.sqrt((1.96 + 0.8416) ** 2 / 9_690_000)  # n = (z_0.975 + z_0.8)^2 / d^2: about 9.69M queries
    needed = queries_for_power(effect)
    assert needed is not None and 8_400_000 < needed <= MAX_QUERIES
