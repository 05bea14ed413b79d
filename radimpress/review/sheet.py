"""The review sample and the reviewers' scores that come back for it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import polars as pl

from radimpress.config import ReviewConfig
from radimpress.errors import ReviewScoresMissingError
from radimpress.review.rubric import ERROR_CATEGORIES, significant_column
from radimpress.review.store import ReviewStore, item_key

REVIEW_COLUMNS = ("variant_id", "report_id", "modality", "findings", "reference", "generated")


def sample_for_review(generations: pl.DataFrame, n_samples: int, seed: int) -> pl.DataFrame:
    """A seeded sample stratified over variants and modalities: as equal a share of `n_samples` from each
    (variant, modality) as the groups allow, the remainder to seeded groups, in a seeded random order."""
    groups = generations.with_row_index("_row").group_by("variant_id", "modality", maintain_order=True).agg("_row")
    rng = random.Random(seed)
    pools = [rng.sample(rows, len(rows)) for rows in groups["_row"].to_list()]
    chosen: list[int] = []
    while len(chosen) < min(n_samples, generations.height):
        open_pools = [pool for pool in pools if pool]
        need = min(n_samples, generations.height) - len(chosen)
        for pool in rng.sample(open_pools, len(open_pools))[:need]:  # one from each group per round
            chosen.append(pool.pop())
    return generations[rng.sample(chosen, len(chosen))]


def reviewed_from_store(sample: pl.DataFrame, store: ReviewStore) -> pl.DataFrame:
    """The sample with each impression's score: the mean of its reviewers' scores in the review store.

    Raises:
        ReviewScoresMissingError: some assigned item has no answer yet.
    """
    missing = store.missing()
    if missing:
        done = store.answers().height
        raise ReviewScoresMissingError(
            f"{missing} review answers are still missing ({done} given): run `radimpress review serve` and send each "
            "reviewer their link (`radimpress review links`)"
        )
    keys = [
        item_key(f or "", r or "", g or "")
        for f, r, g in zip(sample["findings"], sample["reference"], sample["generated"], strict=True)
    ]
    answers = store.answers()
    means = answers.group_by("item_id").agg(pl.col("score").mean().cast(pl.Float64), pl.len().alias("n_reviews"))
    errors = reviewers_errors(answers.filter(pl.col("item_id").is_in(keys)))  # this sample's answers, not older rounds'
    if errors is not None:
        means = means.join(errors, on="item_id", how="left")
    reviewed = sample.with_columns(pl.Series("item_id", keys)).join(
        means, on="item_id", how="left", maintain_order="left"
    )
    return reviewed.with_columns(pl.lit("reviewers").alias("review_source"))


def reviewers_errors(answers: pl.DataFrame) -> pl.DataFrame | None:
    """Per item, the error categories its reviewers ticked, as the judge's count columns: a category counts one
    error when at least half of the item's reviewers ticked it (a tie keeps it: a missed error costs more than a
    doubted one), and that error is significant when at least half of those who ticked it said so.

    The review page records a category, not a count, so counts are 0 or 1. None when no answer in the store ticks
    any category: then the reviewers scored without them, and an empty tick list says nothing (the judge learns the
    score alone); once anyone uses them, an answer without ticks means "none seen", as the page says."""
    ticks = [json.loads(text) for text in answers["errors"]]
    if not any(ticks):
        return None
    per_answer = answers.select("item_id").with_columns(
        *(pl.Series(f"_{c}", [c in t for t in ticks], dtype=pl.Int64) for c in ERROR_CATEGORIES),
        *(pl.Series(f"_{c}_sig", [t.get(c) == "significant" for t in ticks], dtype=pl.Int64) for c in ERROR_CATEGORIES),
    )
    totals = per_answer.group_by("item_id", maintain_order=True).agg(pl.len().alias("_n"), pl.all().sum())
    columns = []
    for c in ERROR_CATEGORIES:
        counted = 2 * pl.col(f"_{c}") >= pl.col("_n")
        columns.append(counted.cast(pl.Int64).alias(c))
        significant = counted & (2 * pl.col(f"_{c}_sig") >= pl.col(f"_{c}")) & (pl.col(f"_{c}") > 0)
        columns.append(significant.cast(pl.Int64).alias(significant_column(c)))
    return totals.select("item_id", *columns)


def reviewer_scores(sample: pl.DataFrame, cfg: ReviewConfig, sheet_path: Path) -> pl.DataFrame:
    """Join reviewers' scores onto the sample; without them, write the review sheet and say what to do.

    Raises:
        ReviewScoresMissingError: the scores file is missing, unreadable, or does not cover the sample.
    """
    if cfg.scores_file is None or not Path(cfg.scores_file).is_file():
        sample.select(REVIEW_COLUMNS).with_columns(pl.lit(None, dtype=pl.Float64).alias("score")).write_csv(sheet_path)
        raise ReviewScoresMissingError(
            f"no reviewer scores yet: fill the 'score' column (0-10) of {sheet_path}, save it elsewhere "
            "and set review.scores_file to that copy"
        )
    scores = _read_scores(Path(cfg.scores_file))
    # The sample's order, not the scores file's, so the judge's seeded folds are reproducible.
    reviewed = sample.join(scores, on=["variant_id", "report_id"], how="left", maintain_order="left")
    if reviewed["score"].null_count():
        scored = reviewed["score"].drop_nulls().len()
        raise ReviewScoresMissingError(f"{cfg.scores_file} scores {scored} of the {sample.height} sampled impressions")
    return reviewed.with_columns(pl.lit("reviewers").alias("review_source"))


def _read_scores(path: Path) -> pl.DataFrame:
    try:
        scores = pl.read_csv(path, infer_schema=False)
        scores = scores.select("variant_id", "report_id", pl.col("score").cast(pl.Float64))
    except pl.exceptions.PolarsError as exc:
        raise ReviewScoresMissingError(
            f"{path} must be a CSV with columns variant_id, report_id, score (0-10): {str(exc).splitlines()[0]}"
        ) from None
    if scores.select("variant_id", "report_id").is_duplicated().any():
        raise ReviewScoresMissingError(f"{path} scores some (variant_id, report_id) pair more than once")
    if not scores["score"].drop_nulls().is_between(0, 10).all():
        raise ReviewScoresMissingError(f"{path} has scores outside the rubric's 0-10")
    return scores
