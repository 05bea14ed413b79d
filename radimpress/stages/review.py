"""Review: factual-correctness scores on a sample of the top variants' impressions."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from radimpress.config import ReviewConfig
from radimpress.errors import ReviewScoresMissingError
from radimpress.evaluation.agreement import agreement, agreement_table
from radimpress.evaluation.statistics import mean_interval
from radimpress.files import data_dir, read_frame, write_frame
from radimpress.review.pairwise import PairwiseReview, pairwise_summary
from radimpress.review.sheet import reviewed_from_store, reviewer_scores, sample_for_review
from radimpress.review.store import ReviewStore
from radimpress.stages.store import stage


@stage("review")
def review_stage(generation_dirs: list[Path], cfg: ReviewConfig, *, out: Path) -> Path:
    """reviewed.parquet: the sample with each impression's score (reviewers', or simulated ones)."""
    sample = _review_sample(generation_dirs, cfg)
    if cfg.source == "simulated":
        from radimpress.sim.reviewer import simulated_review  # demo-only code, reached only for simulated reviews

        reviewed = simulated_review(sample, cfg)
    elif cfg.source == "app":
        store = review_store(cfg)
        store.publish(sample, cfg.reviewers, cfg.calibration_share, cfg.seed, cfg.lead or cfg.reviewers[0])
        _publish_pairs(store, generation_dirs, cfg)
        pairwise = PairwiseReview(store)
        if pairwise.missing():
            raise ReviewScoresMissingError(f"{pairwise.missing()} pairwise answers are still missing")
        reviewed = reviewed_from_store(sample, store)
        write_frame(store.answers(), out / "answers.parquet")
        if cfg.pairwise:
            pairwise_summary(pairwise.answers()).write_csv(out / "pairwise.csv")
        write_human_summaries(reviewed, store.answers(), out)
    else:
        reviewed = reviewer_scores(sample, cfg, out / "review_sheet.csv")
    write_frame(reviewed, out / "reviewed.parquet")
    return out


def publish_review(generation_dirs: list[Path], cfg: ReviewConfig, flow_run_id: str) -> dict:
    """Publish the review sample to the store (idempotent); with answers missing, record that `flow_run_id` waits.

    Returns {"missing", "assigned", "wait"} (`wait`: this suspension's number, 0 when nothing is missing)."""
    store = review_store(cfg)
    _publish_pairs(store, generation_dirs, cfg)
    store.publish(
        _review_sample(generation_dirs, cfg),
        cfg.reviewers,
        cfg.calibration_share,
        cfg.seed,
        cfg.lead or cfg.reviewers[0],
    )
    pairwise = PairwiseReview(store)
    missing, assigned = store.missing() + pairwise.missing(), store.assigned() + pairwise.assigned()
    return {"missing": missing, "assigned": assigned, "wait": store.record_wait(flow_run_id) if missing else 0}


def _publish_pairs(store: ReviewStore, generation_dirs: list[Path], cfg: ReviewConfig) -> None:
    """The top two variants (the first two folders: ranks 1 and 2) side by side, when the profile asks for pairs."""
    if cfg.pairwise and len(generation_dirs) >= 2:
        first, second = (read_frame(d / "generations.parquet") for d in generation_dirs[:2])
        PairwiseReview(store).publish(first, second, cfg.reviewers, cfg.pairwise, cfg.seed)


def _review_sample(generation_dirs: list[Path], cfg: ReviewConfig) -> pl.DataFrame:
    generations = pl.concat([read_frame(d / "generations.parquet") for d in generation_dirs], how="diagonal")
    return sample_for_review(generations, cfg.n_samples, cfg.seed)


def write_human_summaries(reviewed: pl.DataFrame, answers: pl.DataFrame, out: Path) -> None:
    """human_scores.csv: the reviewers' own mean score per variant (the study's factual-correctness column, from
    humans) with its bootstrap 95% interval; agreement.csv: alpha and pairwise kappa, with two or more reviewers."""
    rows = []
    for (variant,), group in reviewed.group_by("variant_id", maintain_order=True):
        low, high = mean_interval(group["score"].to_numpy())
        rows.append((variant, group.height, round(group["score"].mean(), 3), round(low, 3), round(high, 3)))
    columns = ["Variant", "Reviewed", "Mean score (reviewers)", "CI low", "CI high"]
    pl.DataFrame(rows, schema=columns, orient="row").write_csv(out / "human_scores.csv")
    if answers["reviewer"].n_unique() >= 2:
        agreement_table(agreement(answers)).write_csv(out / "agreement.csv")


def review_store(cfg: ReviewConfig) -> ReviewStore:
    """The profile's review store (default <data dir>/review/review.sqlite)."""
    return ReviewStore(cfg.store or data_dir() / "review" / "review.sqlite")
