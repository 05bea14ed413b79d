"""Ingest: the synthetic generator or a CSV / Parquet export, into one canonical report frame.

Nothing is dropped silently: rows that cannot be used go to a quarantine frame with their reason,
so rows in = rows kept + rows quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from radimpress import synthetic
from radimpress.config import CANONICAL_COLUMNS, ColumnMapping, DataConfig
from radimpress.errors import InputDataError
from radimpress.io import read_export

REQUIRED_FIELDS = ("findings", "impression")


@dataclass(frozen=True)
class IngestResult:
    reports: pl.DataFrame
    quarantine: pl.DataFrame  # the rejected rows, canonical columns + `reason`


def ingest(cfg: DataConfig) -> IngestResult:
    """Load the reports the profile names and split off the unusable rows."""
    if cfg.source == "synthetic":
        raw = synthetic.generate_reports(cfg.n_reports, cfg.seed)
    else:
        raw = to_canonical(read_export(cfg.path), cfg.columns, str(cfg.path))
    if cfg.default_modality:
        raw = raw.with_columns(pl.col("modality").fill_null(cfg.default_modality))
    return quarantine_unusable(raw)


def to_canonical(export: pl.DataFrame, columns: ColumnMapping, source: str) -> pl.DataFrame:
    """Rename the export's columns to the canonical ones; optional ones missing become empty.

    Raises:
        InputDataError: a required column is missing, or a required column is empty in every row.
    """
    for field in REQUIRED_FIELDS:
        name = getattr(columns, field)
        if name not in export.columns:
            raise InputDataError(
                f"{source} has no column '{name}' for {field} (set data.columns.{field}); "
                f"its columns are: {', '.join(export.columns)}"
            )
        if export.height and export[name].str.strip_chars().fill_null("").eq("").all():
            raise InputDataError(f"column '{name}' ({field}) of {source} is empty in every row")
    fields = [*CANONICAL_COLUMNS, *(["ground_truth"] if columns.ground_truth else [])]
    return export.select(_canonical_column(export, columns, field) for field in fields)


def _canonical_column(export: pl.DataFrame, columns: ColumnMapping, field: str) -> pl.Expr:
    name = getattr(columns, field)
    if name is not None and name in export.columns:
        return pl.col(name).cast(pl.String).str.strip_chars().alias(field)
    if name is not None and name != field:
        raise InputDataError(f"the export has no column '{name}' named by data.columns.{field}")
    if field == "report_id":  # no id column: the 1-based row number is the id
        return pl.int_range(1, pl.len() + 1).cast(pl.String).alias(field)
    return pl.lit(None, dtype=pl.String).alias(field)


def quarantine_unusable(reports: pl.DataFrame) -> IngestResult:
    """Tag each row with the first reason it cannot be used (or null) and split the frame on it."""
    tagged = reports.with_columns(_reason().alias("reason"))
    return IngestResult(
        reports=tagged.filter(pl.col("reason").is_null()).drop("reason"),
        quarantine=tagged.filter(pl.col("reason").is_not_null()),
    )


def _blank(column: str) -> pl.Expr:
    return pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")


def _reason() -> pl.Expr:
    return (
        pl.when(_blank("findings"))
        .then(pl.lit("no_findings"))
        .when(_blank("impression"))
        .then(pl.lit("no_impression"))
        .when(pl.col("report_id").is_duplicated())
        .then(pl.lit("duplicate_id"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
