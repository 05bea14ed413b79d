"""Deterministic train / validation / test split.

Each report's split depends only on its id and the seed, so editing or adding one report never moves
another report to a different split (and leaves the other splits' files, and their caches, unchanged).
"""

from __future__ import annotations

import hashlib

import polars as pl

from radimpress.config import SplitConfig

SPLITS = ("train", "validation", "test")


def _unit_interval(report_id: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{report_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_splits(reports: pl.DataFrame, cfg: SplitConfig) -> pl.Series:
    """The split name of every row."""
    position = pl.Series([_unit_interval(rid, cfg.seed) for rid in reports["report_id"]], dtype=pl.Float64)
    return (
        pl.select(
            pl.when(pl.lit(position) < cfg.train)
            .then(pl.lit("train"))
            .when(pl.lit(position) < cfg.train + cfg.validation)
            .then(pl.lit("validation"))
            .otherwise(pl.lit("test"))
        )
        .to_series()
        .alias("split")
    )


def split_reports(reports: pl.DataFrame, cfg: SplitConfig) -> dict[str, pl.DataFrame]:
    """Frames for train, validation and test (sorted by id, so the files are byte-stable)."""
    tagged = reports.with_columns(assign_splits(reports, cfg)).sort("report_id")
    return {name: tagged.filter(pl.col("split") == name).drop("split") for name in SPLITS}
