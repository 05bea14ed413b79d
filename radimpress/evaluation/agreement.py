"""Agreement between reviewers on the items they all scored: Krippendorff's alpha (ordinal) over every reviewer,
and quadratic-weighted Cohen's kappa for each pair, each with a bootstrap 95% interval over items.

`krippendorff` and scikit-learn compute the coefficients and `scipy.stats.bootstrap` the intervals (percentile
method, items resampled with replacement), so nothing here is hand-written statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import polars as pl

from radimpress.errors import RadimpressError

SCORES = list(range(11))  # the rubric's 0-10
MIN_SHARED_ITEMS = 5


@dataclass(frozen=True)
class Coefficient:
    name: str  # "krippendorff_alpha" or "kappa <reviewer a> / <reviewer b>"
    value: float
    low: float
    high: float
    n_items: int


def agreement(answers: pl.DataFrame, seed: int = 0, resamples: int = 1000) -> list[Coefficient]:
    """Alpha over every reviewer (items with two or more scores) and kappa per pair (items both scored).

    Raises:
        RadimpressError: fewer than two reviewers, or a pair shares fewer than MIN_SHARED_ITEMS items.
    """
    wide = answers.pivot(on="reviewer", index="item_id", values="score", aggregate_function="first").sort("item_id")
    reviewers = sorted(c for c in wide.columns if c != "item_id")
    if len(reviewers) < 2:
        raise RadimpressError(f"agreement needs two or more reviewers; the answers have {len(reviewers)}")
    matrix = wide.select(reviewers).to_numpy().astype(float).T  # reviewers x items, NaN where not scored
    shared = matrix[:, (~np.isnan(matrix)).sum(axis=0) >= 2]
    results = [_interval("krippendorff_alpha", shared, _alpha, seed, resamples)]
    for (i, a), (j, b) in combinations(enumerate(reviewers), 2):
        both = matrix[[i, j]][:, ~np.isnan(matrix[[i, j]]).any(axis=0)]
        results.append(_interval(f"kappa {a} / {b}", both, _kappa, seed, resamples))
    return results


def _alpha(matrix: np.ndarray) -> float:
    import krippendorff

    if len(np.unique(matrix[~np.isnan(matrix)])) < 2:
        return 1.0  # one value everywhere: perfect agreement, which alpha leaves undefined
    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal", value_domain=SCORES))


def _kappa(matrix: np.ndarray) -> float:
    from sklearn.metrics import cohen_kappa_score

    if np.array_equal(matrix[0], matrix[1]):
        return 1.0  # identical ratings; sklearn divides 0 by 0 when they are also constant
    return float(cohen_kappa_score(matrix[0], matrix[1], weights="quadratic", labels=SCORES))


def _interval(name: str, matrix: np.ndarray, statistic, seed: int, resamples: int) -> Coefficient:
    from scipy.stats import bootstrap

    n_items = matrix.shape[1]
    if n_items < MIN_SHARED_ITEMS:
        raise RadimpressError(
            f"{name}: the reviewers share {n_items} items, fewer than {MIN_SHARED_ITEMS}; raise "
            "review.calibration_share so every reviewer scores more of the same items"
        )
    value = statistic(matrix)
    result = bootstrap(
        (np.arange(n_items),),
        lambda columns: statistic(matrix[:, columns.astype(int)]),
        vectorized=False,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return Coefficient(name, value, float(low), float(high), n_items)


def agreement_table(coefficients: list[Coefficient]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "Coefficient": [c.name for c in coefficients],
            "Value": [round(c.value, 3) for c in coefficients],
            "CI low": [round(c.low, 3) for c in coefficients],
            "CI high": [round(c.high, 3) for c in coefficients],
            "Items": [c.n_items for c in coefficients],
        }
    )
