"""Review: factual-correctness scores on a sample of the top variants' impressions."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from radimpress.config import ReviewConfig
from radimpress.files import read_frame, write_frame
from radimpress.review.sheet import reviewer_scores, sample_for_review
from radimpress.stages.store import stage


@stage("review")
def review_stage(generation_dirs: list[Path], cfg: ReviewConfig, *, out: Path) -> Path:
    """reviewed.parquet: the sample with each impression's score (reviewers', or simulated ones)."""
    generations = pl.concat([read_frame(d / "generations.parquet") for d in generation_dirs], how="diagonal")
    sample = sample_for_review(generations, cfg.n_samples, cfg.seed)
    if cfg.source == "simulated":
        from radimpress.sim.reviewer import simulated_review  # demo-only code, reached only for simulated reviews

        reviewed = simulated_review(sample, cfg)
    else:
        reviewed = reviewer_scores(sample, cfg, out / "review_sheet.csv")
    write_frame(reviewed, out / "reviewed.parquet")
    return out
