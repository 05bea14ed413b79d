"""How far to trust the judge: its out-of-fold agreement with the reviewers, beside the automatic metrics' and the
mean predictor's, each with a bootstrap 95% interval.

Every reviewed item gets a prediction from a judge (or a metric calibration) that never saw its report: the items
are split into k folds grouped by report (sklearn's GroupKFold), so one report's impressions never sit on both
sides. A metric such as ROUGE-L F1 lives on 0-1, so for the error statistics (MAE, weighted kappa) it is mapped to
0-10 by a least-squares line fitted on the other folds, as the judge is; rank statistics (Kendall, Spearman) read
it as it is. Intervals resample reports, not items (scipy's bootstrap over report indices), for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats

from radimpress.errors import RadimpressError

CONFIDENCE = 0.95
RESAMPLES = 1000
MEAN_PREDICTOR = "always the mean"
HUMAN_CEILING = "another reviewer"
JUDGE_DIRECT = "judge direct"  # MLflow metric names allow no brackets
JUDGE_FROM_ERRORS = "judge from errors"
STATISTICS = ("kendall_tau_b", "spearman_rho", "weighted_kappa", "mae")


@dataclass(frozen=True)
class Agreement:
    """One predictor against the reviewers' scores, on every reviewed item."""

    predictor: str
    values: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]
    mae_minus_mean: tuple[float, float, float]
    """Its MAE minus the mean predictor's on the same resamples: (value, low, high); below 0 beats the mean."""
    n_items: int


def grouped_folds(groups: list[str], k: int, seed: int) -> np.ndarray:
    """The fold (0..k-1) of every item; items of one group share a fold.

    Raises:
        RadimpressError: fewer groups than folds.
    """
    from sklearn.model_selection import GroupKFold

    distinct = len(set(groups))
    if distinct < k:
        raise RadimpressError(f"{distinct} reviewed reports cannot fill {k} folds: review more, or lower judge.folds")
    folds = np.empty(len(groups), dtype=int)
    splitter = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(groups)), groups=groups)):
        folds[held_out] = fold
    return folds


def calibrated_out_of_fold(metric: np.ndarray, truth: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each item's metric mapped to the score scale by a line fitted on the other folds, clipped to 0-10."""
    predicted = np.empty(len(truth))
    for fold in np.unique(folds):
        train, held = folds != fold, folds == fold
        if np.ptp(metric[train]) == 0:  # a constant metric predicts nothing: the training mean
            predicted[held] = truth[train].mean()
            continue
        slope, intercept = np.polyfit(metric[train], truth[train], 1)
        predicted[held] = intercept + slope * metric[held]
    return np.clip(predicted, 0.0, 10.0)


def mean_out_of_fold(truth: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each item predicted by the mean score of the other folds."""
    return np.array([truth[folds != fold].mean() for fold in folds])


def agreement_with_reviewers(
    truth: np.ndarray,
    predictions: dict[str, np.ndarray],
    ranks: dict[str, np.ndarray],
    groups: list[str],
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> list[Agreement]:
    """Kendall tau-b, Spearman rho, quadratic-weighted kappa and MAE of every predictor, with intervals.

    Args:
        truth: The reviewers' score of every item (0-10).
        predictions: Predictor -> out-of-fold score of every item on 0-10; must hold MEAN_PREDICTOR.
        ranks: Predictor -> what its rank statistics read (a metric's raw value); defaults to its prediction.
        groups: Every item's report, the unit the bootstrap resamples.
        seed: Seed of the resampling.
        resamples: Bootstrap resamples of the reports.
    """
    truth = np.asarray(truth, dtype=float)
    reports, index = np.unique(np.asarray(groups), return_inverse=True)
    members = [np.flatnonzero(index == r) for r in range(len(reports))]
    mean_prediction = predictions[MEAN_PREDICTOR]
    return [
        _agreement(name, truth, predicted, ranks.get(name, predicted), mean_prediction, members, seed, resamples)
        for name, predicted in predictions.items()
    ]


def _agreement(name, truth, predicted, ranked, mean_prediction, members, seed, resamples) -> Agreement:
    def statistic(report_indices: np.ndarray) -> np.ndarray:
        items = np.concatenate([members[i] for i in report_indices.astype(int)])
        values = _statistics(truth[items], predicted[items], ranked[items])
        mean_mae = np.abs(truth[items] - mean_prediction[items]).mean()
        return np.append(values, values[-1] - mean_mae)

    everything = statistic(np.arange(len(members)))
    result = stats.bootstrap(
        (np.arange(len(members)),),
        statistic,
        vectorized=False,
        n_resamples=resamples,
        confidence_level=CONFIDENCE,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = (np.nan_to_num(bound, nan=0.0) for bound in result.confidence_interval)
    return Agreement(
        predictor=name,
        values=dict(zip(STATISTICS, everything[:-1].tolist(), strict=True)),
        low=dict(zip(STATISTICS, low[:-1].tolist(), strict=True)),
        high=dict(zip(STATISTICS, high[:-1].tolist(), strict=True)),
        mae_minus_mean=(float(everything[-1]), float(low[-1]), float(high[-1])),
        n_items=len(truth),
    )


def _statistics(truth: np.ndarray, predicted: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    """A constant predictor has no rank correlation: 0, as it carries no ranking (scipy would say nan)."""
    from sklearn.metrics import cohen_kappa_score

    constant = np.ptp(ranked) == 0 or np.ptp(truth) == 0
    tau = 0.0 if constant else stats.kendalltau(ranked, truth, variant="b").statistic
    rho = 0.0 if constant else stats.spearmanr(ranked, truth).statistic
    labels = list(range(11))
    rounded_truth, rounded = half_up(truth), half_up(predicted)
    same = np.array_equal(rounded_truth, rounded)
    kappa = 1.0 if same else cohen_kappa_score(rounded_truth, rounded, weights="quadratic", labels=labels)
    return np.array([tau, rho, np.nan_to_num(kappa), np.abs(truth - predicted).mean()], dtype=float)


def reviewer_against_reviewer(answers: pl.DataFrame, seed: int = 0, resamples: int = RESAMPLES) -> Agreement | None:
    """The human ceiling: one reviewer's score as the prediction of another's, on the items both scored (every
    pair of reviewers, each shared item a row; intervals resample items). None when no item has two reviewers.

    Args:
        answers: The review store's answers: reviewer, item_id, score.
    """
    scores = answers.select("reviewer", "item_id", pl.col("score").cast(pl.Float64))
    pairs = scores.join(scores, on="item_id", suffix="_other").filter(pl.col("reviewer") < pl.col("reviewer_other"))
    if pairs.height < 2:
        return None
    truth, other = pairs["score"].to_numpy(), pairs["score_other"].to_numpy()
    constant = np.full(len(truth), truth.mean())
    predictions = {HUMAN_CEILING: other, MEAN_PREDICTOR: constant}
    ranks = {MEAN_PREDICTOR: np.zeros(len(truth))}
    found = agreement_with_reviewers(truth, predictions, ranks, pairs["item_id"].to_list(), seed, resamples)
    return found[0]


def half_up(scores: np.ndarray) -> np.ndarray:
    """Scores rounded to whole points, halves up (6.5 is 7: Python's round would make it 6)."""
    return np.floor(np.asarray(scores, dtype=float) + 0.5).astype(int)


def agreement_frame(agreements: list[Agreement]) -> pl.DataFrame:
    """One row per predictor: each statistic with its interval, and its MAE against the mean predictor's."""
    rows = []
    for a in agreements:
        row: dict[str, object] = {"predictor": a.predictor}
        for name in STATISTICS:
            row |= {name: a.values[name], f"{name}_low": a.low[name], f"{name}_high": a.high[name]}
        value, low, high = a.mae_minus_mean
        rows.append(
            row | {"mae_minus_mean": value, "mae_minus_mean_low": low, "mae_minus_mean_high": high, "items": a.n_items}
        )
    return pl.DataFrame(rows)


def agreement_markdown_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame as a reader wants it: 'value [low, high]' cells."""

    def cell(name: str) -> pl.Expr:
        return pl.format("{} [{}, {}]", *(pl.col(c).round(2) for c in (name, f"{name}_low", f"{name}_high"))).alias(
            name
        )

    return frame.select("predictor", *(cell(name) for name in (*STATISTICS, "mae_minus_mean")), "items")


def trust_sentences(frame: pl.DataFrame, judge: str = "judge") -> list[str]:
    """Plain words: does the judge beat the mean predictor (an MAE interval below zero) and each metric (tau)?"""
    rows = {row["predictor"]: row for row in frame.iter_rows(named=True)}
    mine = rows[judge]
    sentences = []
    if mine["mae_minus_mean_high"] < 0:
        sentences.append(
            f"The judge's error is below always predicting the mean by {-mine['mae_minus_mean']:.2f} points "
            f"(interval [{-mine['mae_minus_mean_high']:.2f}, {-mine['mae_minus_mean_low']:.2f}])."
        )
    else:
        sentences.append(
            "The judge does NOT beat always predicting the mean (its MAE difference interval "
            f"[{mine['mae_minus_mean_low']:.2f}, {mine['mae_minus_mean_high']:.2f}] includes 0 or lies above it): "
            "do not rank models by its scores; review more samples."
        )
    for name, row in rows.items():
        if name in (judge, MEAN_PREDICTOR, HUMAN_CEILING, JUDGE_DIRECT, JUDGE_FROM_ERRORS):
            continue
        if mine["kendall_tau_b"] <= row["kendall_tau_b"]:
            sentences.append(
                f"The judge ranks the reviewed items no better than {name} "
                f"(Kendall tau-b {mine['kendall_tau_b']:.2f} against {row['kendall_tau_b']:.2f})."
            )
    for name in (JUDGE_DIRECT, JUDGE_FROM_ERRORS):
        if name in rows:
            sentences.append(
                f"Scored the other way, {name}: Kendall tau-b {rows[name]['kendall_tau_b']:.2f}, MAE "
                f"{rows[name]['mae']:.2f} (judge.score_from picks the way)."
            )
    if HUMAN_CEILING in rows:
        ceiling = rows[HUMAN_CEILING]
        sentences.append(
            f"Reviewers agree with each other at Kendall tau-b {ceiling['kendall_tau_b']:.2f} (MAE "
            f"{ceiling['mae']:.2f}) on the items two of them scored: no judge can be trusted beyond that ceiling."
        )
    return sentences
