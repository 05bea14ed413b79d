"""Agreement between reviewers, against the values Krippendorff publishes for his worked example."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import cohen_kappa_score

from radimpress.errors import RadimpressError
from radimpress.evaluation.agreement import agreement

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12 units, some missing.
# Published: nominal 0.743, ordinal 0.815, interval 0.849.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def _answers(matrix) -> pl.DataFrame:
    rows = [
        (f"observer-{i}", f"unit-{j:02d}", value)
        for i, observer in enumerate(matrix)
        for j, value in enumerate(observer)
        if value is not None
    ]
    return pl.DataFrame(rows, schema=["reviewer", "item_id", "score"], orient="row")


def test_ordinal_alpha_is_krippendorffs_published_value():
    alpha = agreement(_answers(KRIPPENDORFF_2011))[0]
    assert alpha.name == "krippendorff_alpha" and alpha.n_items == 11  # unit 12 has one value: not pairable
    assert alpha.value == pytest.approx(0.815, abs=5e-4)
    assert alpha.low <= alpha.value <= alpha.high


def test_pairwise_kappa_is_quadratic_weighted_over_the_items_both_scored():
    coefficients = {c.name: c for c in agreement(_answers(KRIPPENDORFF_2011))}
    assert len(coefficients) == 1 + 6  # alpha and the 6 pairs of 4 observers
    both = [(a, b) for a, b in zip(KRIPPENDORFF_2011[1], KRIPPENDORFF_2011[3], strict=True) if None not in (a, b)]
    expected = cohen_kappa_score(*zip(*both, strict=True), weights="quadratic", labels=list(range(11)))
    pair = coefficients["kappa observer-1 / observer-3"]
    assert pair.value == pytest.approx(expected) and pair.n_items == len(both) == 10


def test_independent_reviewers_agree_near_zero_and_copies_perfectly():
    rng = np.random.default_rng(0)
    noise = [list(rng.integers(0, 11, 200)), list(rng.integers(0, 11, 200))]
    alpha = agreement(_answers(noise))[0]
    assert abs(alpha.value) < 0.15 and alpha.low < 0 < alpha.high  # the interval covers "no agreement"
    copy = agreement(_answers([noise[0], noise[0]]))
    assert [c.value for c in copy] == [1.0, 1.0]


def test_too_few_reviewers_or_shared_items_end_in_one_line():
    with pytest.raises(RadimpressError, match="two or more reviewers"):
        agreement(_answers([[1, 2, 3, 4, 5, 6]]))
    with pytest.raises(RadimpressError, match="share 3 items, fewer than 5; raise review.calibration_share"):
        agreement(_answers([[1, 2, 3, None, None], [1, 2, 4, 5, 6]]))
