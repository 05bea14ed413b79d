import numpy as np
import polars as pl
import pytest
from scipy import stats

from radimpress.errors import RadimpressError
from radimpress.evaluation.trust import (
    MEAN_PREDICTOR,
    agreement_frame,
    agreement_markdown_rows,
    agreement_with_reviewers,
    calibrated_out_of_fold,
    grouped_folds,
    half_up,
    mean_out_of_fold,
    reviewer_against_reviewer,
    trust_sentences,
)

RNG = np.random.default_rng(0)
TRUTH = RNG.integers(0, 11, size=60).astype(float)
GROUPS = [f"r{i // 2}" for i in range(60)]  # two items per report


def test_folds_never_split_a_report_and_use_every_fold():
    folds = grouped_folds(GROUPS, 5, seed=0)
    by_report = pl.DataFrame({"report": GROUPS, "fold": folds}).group_by("report").agg(pl.col("fold").n_unique())
    assert by_report["fold"].max() == 1
    assert sorted(set(folds.tolist())) == [0, 1, 2, 3, 4]
    assert not np.array_equal(folds, grouped_folds(GROUPS, 5, seed=1))  # seeded, shuffled


def test_too_few_reports_for_the_folds_is_a_clear_error():
    with pytest.raises(RadimpressError, match="3 reviewed reports cannot fill 5 folds"):
        grouped_folds(["a", "b", "c", "a"], 5, seed=0)


def test_a_metric_is_mapped_to_the_score_scale_on_the_other_folds():
    folds = grouped_folds(GROUPS, 3, seed=0)
    metric = TRUTH / 20 + 0.1  # an exact line: every fold recovers it
    assert calibrated_out_of_fold(metric, TRUTH, folds) == pytest.approx(TRUTH)
    constant = calibrated_out_of_fold(np.full(60, 0.5), TRUTH, folds)
    assert constant == pytest.approx(mean_out_of_fold(TRUTH, folds))
    assert mean_out_of_fold(TRUTH, folds)[0] == pytest.approx(TRUTH[folds != folds[0]].mean())


def test_halves_round_up():
    assert half_up(np.array([6.5, 6.49, 0.5, 9.5])).tolist() == [7, 6, 1, 10]


def _agreements(predictions: dict[str, np.ndarray], ranks: dict | None = None):
    folds = grouped_folds(GROUPS, 5, seed=0)
    predictions = predictions | {MEAN_PREDICTOR: mean_out_of_fold(TRUTH, folds)}
    return {
        a.predictor: a for a in agreement_with_reviewers(TRUTH, predictions, ranks or {}, GROUPS, seed=0, resamples=200)
    }


def test_a_perfect_predictor_agrees_fully_and_beats_the_mean_with_an_interval():
    found = _agreements({"judge": TRUTH.copy()})
    perfect, mean = found["judge"], found[MEAN_PREDICTOR]
    assert perfect.values == pytest.approx(
        {"kendall_tau_b": 1.0, "spearman_rho": 1.0, "weighted_kappa": 1.0, "mae": 0.0}
    )
    assert perfect.mae_minus_mean[2] < 0  # the whole interval below the mean's error
    assert mean.values["kendall_tau_b"] == pytest.approx(
        stats.kendalltau(mean_out_of_fold(TRUTH, grouped_folds(GROUPS, 5, 0)), TRUTH).statistic
    )
    assert mean.mae_minus_mean == (0.0, 0.0, 0.0)


def test_statistics_equal_scipys_and_intervals_hold_them():
    noisy = np.clip(TRUTH + RNG.normal(0, 2, size=60), 0, 10)
    metric = TRUTH / 10 + RNG.normal(0, 0.3, size=60)  # ranks read the raw metric
    found = _agreements({"judge": noisy, "rougeL_f1": np.clip(metric * 10, 0, 10)}, {"rougeL_f1": metric})
    judge, rouge = found["judge"], found["rougeL_f1"]
    assert judge.values["kendall_tau_b"] == pytest.approx(stats.kendalltau(noisy, TRUTH).statistic)
    assert judge.values["spearman_rho"] == pytest.approx(stats.spearmanr(noisy, TRUTH).statistic)
    assert judge.values["mae"] == pytest.approx(np.abs(noisy - TRUTH).mean())
    assert rouge.values["kendall_tau_b"] == pytest.approx(stats.kendalltau(metric, TRUTH).statistic)
    for a in (judge, rouge):
        for name, value in a.values.items():
            assert a.low[name] <= value <= a.high[name], (a.predictor, name)


def test_the_verdict_says_plainly_when_the_judge_does_not_beat_the_mean_or_a_metric():
    backwards = 10 - TRUTH
    frame = agreement_frame(list(_agreements({"judge": backwards, "rougeL_f1": TRUTH / 10}, {}).values()))
    words = " ".join(trust_sentences(frame))
    assert "does NOT beat always predicting the mean" in words
    assert "no better than rougeL_f1" in words
    rough = TRUTH / 10 + RNG.normal(0, 0.3, size=60)
    good = agreement_frame(list(_agreements({"judge": TRUTH.copy(), "rougeL_f1": rough}).values()))
    words = " ".join(trust_sentences(good))
    assert "below always predicting the mean by" in words and "no better than" not in words
    cells = agreement_markdown_rows(good).row(0, named=True)
    assert cells["predictor"] == "judge" and cells["kendall_tau_b"] == "1.0 [1.0, 1.0]" and cells["items"] == 60


def test_the_human_ceiling_is_one_reviewer_predicting_another_on_shared_items():
    answers = pl.DataFrame(
        {
            "reviewer": ["a"] * 6 + ["b"] * 6 + ["c"] * 2,
            "item_id": [f"i{k}" for k in range(6)] * 2 + ["i0", "x"],
            "score": [1, 3, 5, 7, 9, 10, 1, 3, 5, 7, 9, 10, 2, 4],
        }
    )
    ceiling = reviewer_against_reviewer(answers, resamples=200)
    assert ceiling.predictor == "another reviewer" and ceiling.n_items == 8  # a-b six times, a-c and b-c on i0
    assert ceiling.values["mae"] == pytest.approx(2 / 8)
    assert reviewer_against_reviewer(answers.filter(pl.col("reviewer") == "a")) is None
    frame = agreement_frame([*_agreements({"judge": TRUTH.copy()}).values(), ceiling])
    assert frame["items"].to_list() == [60, 60, 8]
    assert "Reviewers agree with each other at Kendall tau-b" in " ".join(trust_sentences(frame))
