"""Intervals, paired tests and Holm's correction, checked against values that follow from their definitions."""

import numpy as np
import pytest

from radimpress.errors import RadimpressError
from radimpress.evaluation.metrics import bleu_statistics, corpus_bleu
from radimpress.evaluation.statistics import holm, mean_interval, paired_p_value, statistic_interval


def test_the_interval_of_a_mean_matches_the_normal_approximation():
    values = np.random.default_rng(0).normal(0.4, 0.2, size=400)
    low, high = mean_interval(values)
    half_width = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert low < values.mean() < high
    assert (low, high) == pytest.approx((values.mean() - half_width, values.mean() + half_width), abs=0.004)
    assert mean_interval(values[:40])[1] - mean_interval(values[:40])[0] > high - low  # fewer reports, wider


def test_constant_scores_have_a_point_interval():
    assert mean_interval(np.full(20, 0.5)) == (0.5, 0.5)


def test_corpus_bleu_interval_resamples_reports():
    references = [f"no acute finding number {i}." for i in range(60)]
    predictions = [r if i % 3 else "something else entirely." for i, r in enumerate(references)]
    statistics = bleu_statistics(predictions, references)
    value = corpus_bleu(statistics)
    low, high = statistic_interval(len(statistics), lambda rows: corpus_bleu(statistics[rows]))
    assert low < value < high and 0 < low and high <= 1


def test_a_paired_test_tells_a_real_difference_from_noise():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.2, 0.6, size=200)
    better = base + 0.05 + rng.normal(0, 0.02, size=200)
    noisy = base + rng.normal(0, 0.02, size=200)
    assert paired_p_value(better, base, "rougeL_f1") < 0.001
    assert paired_p_value(noisy, base, "rougeL_f1") > 0.05
    assert paired_p_value(base, base, "rougeL_f1") == 1.0
    assert paired_p_value(better, base, "x") == pytest.approx(paired_p_value(base, better, "x"), abs=0.01)


def test_a_paired_test_needs_ten_reports_on_both_sides():
    with pytest.raises(RadimpressError, match="paired test of rougeL_f1: only 9 test reports, at least 10"):
        paired_p_value(np.ones(9), np.zeros(9), "rougeL_f1")
    with pytest.raises(RadimpressError, match="12 reports on one side, 11 on the other"):
        paired_p_value(np.ones(12), np.zeros(11), "bleu")


def test_holm_adjusts_step_down_and_keeps_the_order():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> raised to 0.06 (monotone)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []
