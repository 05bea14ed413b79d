"""Deterministic train / validation / test split that never puts one patient in two splits.

Each report's split depends only on its group (the patient id, else the study id, else the report id) and
the seed, so all of a patient's reports land together, and editing or adding one report never moves another
patient to a different split (the other splits' files, and their caches, stay unchanged). Splitting each
modality's dataset separately stratifies by modality; a patient with reports in two modalities still lands in
the same split in both, since the group decides.
"""

from __future__ import annotations

import hashlib

import polars as pl

from radimpress.config import SplitConfig

SPLITS = ("train", "validation", "test")


def _unit_interval(report_id: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{report_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_group(reports: pl.DataFrame) -> pl.Series:
    """What must stay together: the patient, else the study, else the report itself.

    A study whose patient id is missing on some rows takes it from its other rows, so the study stays in one
    piece; blank ids count as missing (else every blank row would form one giant "patient").
    """
    frame = reports.with_columns(
        _present(column).alias(column) for column in ("patient_id", "study_id") if column in reports.columns
    )
    if {"patient_id", "study_id"} <= set(frame.columns):
        known = pl.col("patient_id").drop_nulls().first().over("study_id")
        frame = frame.with_columns(
            pl.when(pl.col("study_id").is_not_null()).then(pl.coalesce("patient_id", known)).otherwise("patient_id")
        )
    keys = [
        pl.lit(prefix) + pl.col(column)
        for prefix, column in (("patient:", "patient_id"), ("study:", "study_id"), ("report:", "report_id"))
        if column in frame.columns
    ]
    return frame.select(pl.coalesce(keys).alias("group")).to_series()


def _present(column: str) -> pl.Expr:
    text = pl.col(column).cast(pl.String).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def assign_splits(reports: pl.DataFrame, cfg: SplitConfig) -> pl.Series:
    """The split name of every row."""
    groups = split_group(reports)
    unit = {group: _unit_interval(group, cfg.seed) for group in groups.unique()}
    position = pl.Series([unit[group] for group in groups], dtype=pl.Float64)
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
