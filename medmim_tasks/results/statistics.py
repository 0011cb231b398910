"""Statistics for reports and comparisons: cluster-aware intervals, exact McNemar, paired bootstrap.

Accuracy intervals are Wilson score intervals on the *effective* sample size n / deff, where the
design effect deff = (clustered SE / naive SE)^2 (never below 1) accounts for items that share a
patient. The clustered SE is the same estimator lmms-eval reports as `*_stderr_clustered`
(Miller 2024, "Adding Error Bars to Evals", eq. 4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest, norm

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
_BOOTSTRAP_CELLS_PER_CHUNK = 2_000_000  # resamples x items drawn at once (memory bound)


@dataclass(frozen=True)
class Estimate:
    """A mean (a fraction) over n documents with its standard error and confidence interval."""

    value: float
    n: int
    stderr: float
    low: float
    high: float


NO_ESTIMATE = Estimate(math.nan, 0, math.nan, math.nan, math.nan)


def z_value(confidence: float = CONFIDENCE) -> float:
    """Two-sided normal quantile for a confidence level (1.96 for 95%)."""
    return float(norm.ppf(0.5 + confidence / 2))


def naive_stderr(scores: Sequence[float] | np.ndarray) -> float:
    """Standard error treating documents as independent: sd (ddof=1) / sqrt(n), as lmms-eval's `_stderr_clt`."""
    values = np.asarray(scores, dtype=float)
    if values.size < 2:
        return math.nan
    return float(values.std(ddof=1) / math.sqrt(values.size))


def clustered_stderr(scores: Sequence[float] | np.ndarray, clusters: Sequence[Any]) -> float:
    """Cluster-robust standard error of the mean, as lmms-eval's `_stderr_clustered`.

    SE^2 = SE_naive^2 + (1/n^2) * sum over clusters of sum_{i != j} (s_i - mean)(s_j - mean).
    """
    values = np.asarray(scores, dtype=float)
    n = values.size
    if n < 2:
        return math.nan
    if len(clusters) != n:
        raise ValueError(f"{n} scores but {len(clusters)} cluster ids")
    keys = np.asarray([str(c) for c in clusters], dtype=object)
    deviations = pd.Series(values - values.mean())
    cluster_sums = deviations.groupby(keys).sum()
    cluster_squares = (deviations * deviations).groupby(keys).sum()
    cross = float((cluster_sums**2 - cluster_squares).sum()) / (n * n)
    return math.sqrt(max(naive_stderr(values) ** 2 + cross, 0.0))


def wilson_interval(proportion: float, n: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for a proportion observed on n (possibly effective, non-integer) trials."""
    if n <= 0 or math.isnan(proportion):
        return math.nan, math.nan
    z = z_value(confidence)
    denominator = 1 + z * z / n
    centre = (proportion + z * z / (2 * n)) / denominator
    half = z * math.sqrt(proportion * (1 - proportion) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion_estimate(
    scores: Sequence[float] | np.ndarray, clusters: Sequence[Any], confidence: float = CONFIDENCE
) -> Estimate:
    """Accuracy-like mean of 0/1 scores with a cluster-aware Wilson interval."""
    values = np.asarray(scores, dtype=float)
    n = values.size
    if n == 0:
        return NO_ESTIMATE
    proportion = float(values.mean())
    naive = naive_stderr(values)
    clustered = clustered_stderr(values, clusters) if len(set(clusters)) > 1 else naive
    if math.isnan(clustered):
        clustered = math.sqrt(proportion * (1 - proportion) / n)
    design_effect = (clustered / naive) ** 2 if naive > 0 else 1.0
    design_effect = max(design_effect, 1.0)
    low, high = wilson_interval(proportion, n / design_effect, confidence)
    return Estimate(proportion, n, clustered, low, high)


def macro_mean_estimate(estimates: Sequence[Estimate], confidence: float = CONFIDENCE) -> Estimate:
    """Unweighted mean of split estimates; normal interval with SE = sqrt(sum SE_k^2) / K (splits independent)."""
    if not estimates or any(e.n == 0 or math.isnan(e.value) for e in estimates):
        return NO_ESTIMATE
    k = len(estimates)
    value = sum(e.value for e in estimates) / k
    stderr = math.sqrt(sum(e.stderr**2 for e in estimates)) / k
    half = z_value(confidence) * stderr
    return Estimate(value, sum(e.n for e in estimates), stderr, max(0.0, value - half), min(1.0, value + half))


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test on paired right/wrong outcomes."""

    n: int
    only_a_right: int
    only_b_right: int
    p_value: float


def mcnemar_exact(a_correct: Sequence[bool] | np.ndarray, b_correct: Sequence[bool] | np.ndarray) -> McNemarResult:
    """Two-sided exact McNemar test: a binomial test of the discordant pairs against 1/2."""
    a = np.asarray(a_correct, dtype=bool)
    b = np.asarray(b_correct, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes differ in length: {a.size} and {b.size}")
    only_a = int(np.sum(a & ~b))
    only_b = int(np.sum(~a & b))
    discordant = only_a + only_b
    p_value = 1.0 if discordant == 0 else float(binomtest(only_a, discordant, 0.5).pvalue)
    return McNemarResult(int(a.size), only_a, only_b, min(p_value, 1.0))


@dataclass(frozen=True)
class BootstrapResult:
    """Paired bootstrap of the mean difference (a - b)."""

    n: int
    difference: float
    low: float
    high: float
    p_value: float
    resamples: int


def paired_bootstrap(
    a_scores: Sequence[float] | np.ndarray,
    b_scores: Sequence[float] | np.ndarray,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> BootstrapResult:
    """Resample paired documents with replacement (fixed seed: the same inputs give the same result).

    The p-value is two-sided, from the bootstrap distribution shifted to the null of no difference:
    (1 + #{|mean* - observed| >= |observed|}) / (resamples + 1).
    """
    a = np.asarray(a_scores, dtype=float)
    b = np.asarray(b_scores, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired scores differ in length: {a.size} and {b.size}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, not {resamples}")
    differences = a - b
    n = differences.size
    if n == 0:
        return BootstrapResult(0, math.nan, math.nan, math.nan, math.nan, resamples)
    observed = float(differences.mean())
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, _BOOTSTRAP_CELLS_PER_CHUNK // n)
    for start in range(0, resamples, chunk):
        count = min(chunk, resamples - start)
        means[start : start + count] = differences[rng.integers(0, n, size=(count, n))].mean(axis=1)
    alpha = 1 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    extreme = int(np.sum(np.abs(means - observed) >= abs(observed) - 1e-12))
    p_value = (1 + extreme) / (resamples + 1)
    return BootstrapResult(n, observed, float(low), float(high), min(p_value, 1.0), resamples)
