"""Statistics of reports and comparisons, checked against values worked out by hand."""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest

from medmim_tasks.results.statistics import (
    Estimate,
    clustered_stderr,
    macro_mean_estimate,
    mcnemar_exact,
    naive_stderr,
    paired_bootstrap,
    proportion_estimate,
    wilson_interval,
)


def reference_clustered_stderr(scores: list[float], clusters: list[str]) -> float:
    """lmms-eval's formula written out pair by pair: SE_naive^2 + (1/n^2) sum_c sum_{i!=j} d_i d_j."""
    n = len(scores)
    mean = sum(scores) / n
    naive_sq = sum((s - mean) ** 2 for s in scores) / (n - 1) / n
    cross = sum(
        (scores[i] - mean) * (scores[j] - mean)
        for i, j in product(range(n), repeat=2)
        if i != j and clusters[i] == clusters[j]
    )
    return math.sqrt(naive_sq + cross / n**2)


def test_naive_stderr_is_sd_over_root_n() -> None:
    assert naive_stderr([1, 0, 1, 0]) == pytest.approx(math.sqrt(1 / 3) / 2)
    assert math.isnan(naive_stderr([1]))


def test_clustered_stderr_matches_the_pairwise_formula() -> None:
    rng = np.random.default_rng(3)
    scores = [float(x) for x in rng.integers(0, 2, size=40)]
    clusters = [f"p{x}" for x in rng.integers(0, 9, size=40)]
    assert clustered_stderr(scores, clusters) == pytest.approx(reference_clustered_stderr(scores, clusters), rel=1e-12)


def test_clustered_stderr_equals_naive_when_every_item_is_its_own_cluster() -> None:
    scores = [1, 0, 0, 1, 1, 1, 0]
    assert clustered_stderr(scores, list("abcdefg")) == pytest.approx(naive_stderr(scores))


def test_wilson_interval_known_value() -> None:
    low, high = wilson_interval(0.5, 100)
    assert (round(low, 4), round(high, 4)) == (0.4038, 0.5962)
    low, high = wilson_interval(0.0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)


def test_proportion_estimate_without_clustering_is_the_plain_wilson_interval() -> None:
    scores = [1] * 30 + [0] * 70
    estimate = proportion_estimate(scores, [str(i) for i in range(100)])
    assert estimate.value == 0.3 and estimate.n == 100
    assert (estimate.low, estimate.high) == pytest.approx(wilson_interval(0.3, 100))


def test_proportion_estimate_widens_with_correlated_clusters() -> None:
    # ten patients, each with ten items answered alike: effectively ten observations
    scores = [1] * 30 + [0] * 70
    clusters = [f"p{i // 10}" for i in range(100)]
    estimate = proportion_estimate(scores, clusters)
    plain_low, plain_high = wilson_interval(0.3, 100)
    assert estimate.high - estimate.low > 2 * (plain_high - plain_low)
    assert estimate.stderr == pytest.approx(clustered_stderr(scores, clusters))
    design_effect = (estimate.stderr / naive_stderr(scores)) ** 2
    assert (estimate.low, estimate.high) == pytest.approx(wilson_interval(0.3, 100 / design_effect))


def test_proportion_estimate_of_no_items_is_missing() -> None:
    estimate = proportion_estimate([], [])
    assert estimate.n == 0 and math.isnan(estimate.value) and math.isnan(estimate.low)


def test_macro_mean_averages_splits_and_combines_their_errors() -> None:
    estimate = macro_mean_estimate([Estimate(0.4, 100, 0.03, 0, 1), Estimate(0.6, 10, 0.04, 0, 1)])
    assert estimate.value == pytest.approx(0.5)
    assert estimate.stderr == pytest.approx(0.025)
    assert (estimate.low, estimate.high) == pytest.approx((0.5 - 1.959964 * 0.025, 0.5 + 1.959964 * 0.025), abs=1e-6)
    missing = macro_mean_estimate([Estimate(0.4, 100, 0.03, 0, 1), Estimate(math.nan, 0, math.nan, math.nan, math.nan)])
    assert math.isnan(missing.value)


def test_mcnemar_exact_counts_discordant_pairs_and_gives_the_binomial_p_value() -> None:
    a = [True] * 10 + [False] * 2 + [True] * 5 + [False] * 3
    b = [False] * 10 + [True] * 2 + [True] * 5 + [False] * 3
    result = mcnemar_exact(a, b)
    assert (result.n, result.only_a_right, result.only_b_right) == (20, 10, 2)
    assert result.p_value == pytest.approx(2 * (1 + 12 + 66) / 2**12)  # two-sided P(X <= 2 | 12, 1/2)


def test_mcnemar_exact_without_discordant_pairs_is_one() -> None:
    assert mcnemar_exact([True, False], [True, False]).p_value == 1.0


def test_paired_bootstrap_is_deterministic_and_finds_a_clear_difference() -> None:
    rng = np.random.default_rng(1)
    b = rng.uniform(0, 0.5, size=200)
    a = b + 0.2 + rng.normal(0, 0.05, size=200)
    first = paired_bootstrap(a, b, resamples=2000, seed=7)
    assert first == paired_bootstrap(a, b, resamples=2000, seed=7)
    assert first.difference == pytest.approx(float(np.mean(a - b)))
    assert first.low < first.difference < first.high
    assert first.p_value == pytest.approx(1 / 2001)


def test_paired_bootstrap_of_identical_scores_finds_nothing() -> None:
    scores = [0.1, 0.5, 0.9, 0.3]
    result = paired_bootstrap(scores, scores, resamples=500)
    assert result.difference == 0.0 and result.p_value == 1.0


def test_paired_bootstrap_rejects_unpaired_inputs() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        paired_bootstrap([1.0, 2.0], [1.0], resamples=10)
