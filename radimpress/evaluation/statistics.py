"""How far to trust a number: bootstrap 95% intervals over reports, paired tests between models, Holm's correction.

Reports are the unit of resampling: a metric's interval comes from resampling the test reports (corpus BLEU is
recomputed on each resample from per-report statistics), and two models are compared on the same reports by
approximate randomisation (swapping the two models' scores report by report). scipy does the resampling.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

from radimpress.errors import RadimpressError

CONFIDENCE = 0.95
RESAMPLES = 1000
PERMUTATIONS = 2000
MIN_REPORTS = 10  # below this a paired test has too few pairs to mean anything
ALPHA = 0.05


def mean_interval(values: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean of per-report values."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2 or np.all(values == values[0]):
        return float(values.mean()) if len(values) else 0.0, float(values.mean()) if len(values) else 0.0
    result = stats.bootstrap(
        (values,), np.mean, n_resamples=RESAMPLES, confidence_level=CONFIDENCE, method="percentile", rng=seed
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def statistic_interval(n: int, statistic: Callable[[np.ndarray], float], seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of a corpus statistic of `n` reports, `statistic(report indices)`."""
    if n < 2:
        value = statistic(np.arange(n))
        return value, value
    result = stats.bootstrap(
        (np.arange(n),),
        lambda indices: statistic(indices.astype(int)),
        n_resamples=RESAMPLES,
        confidence_level=CONFIDENCE,
        method="percentile",
        vectorized=False,
        rng=seed,
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def paired_p_value(first: np.ndarray, second: np.ndarray, what: str, seed: int = 0) -> float:
    """Two-sided approximate-randomisation p-value that two models' mean per-report scores differ.

    Raises:
        RadimpressError: the two do not score the same reports, or fewer than MIN_REPORTS of them.
    """
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    check_pairs(len(first), len(second), what)
    if np.array_equal(first, second):
        return 1.0
    result = stats.permutation_test(
        (first, second),
        lambda x, y, axis: np.mean(x, axis=axis) - np.mean(y, axis=axis),
        permutation_type="samples",
        n_resamples=PERMUTATIONS,
        alternative="two-sided",
        vectorized=True,
        rng=seed,
    )
    return float(result.pvalue)


def check_pairs(n_first: int, n_second: int, what: str) -> None:
    """A paired test needs the same reports on both sides, and at least MIN_REPORTS of them."""
    if n_first != n_second:
        raise RadimpressError(f"paired test of {what}: {n_first} reports on one side, {n_second} on the other")
    if n_first < MIN_REPORTS:
        raise RadimpressError(
            f"paired test of {what}: only {n_first} test reports, at least {MIN_REPORTS} are needed "
            "(a larger test split, or a smaller split.validation)"
        )


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone), in the order given.

    Hand-written: scipy has Benjamini-Hochberg (`false_discovery_control`) but not Holm, and statsmodels is a large
    dependency for six lines.
    """
    order = np.argsort(p_values)
    adjusted = np.empty(len(p_values))
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()
