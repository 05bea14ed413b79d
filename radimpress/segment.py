"""Segment reports by modality: one dataset per modality, `unknown` rather than a guess."""

from __future__ import annotations

import polars as pl

# Checked in order on the modality column, then the exam text; word boundaries keep "CT" out of "ACT".
MODALITY_PATTERNS: dict[str, str] = {
    "mri": r"(?i)\b(mri|mra|mr|magnetic resonance)\b",
    "ct": r"(?i)\b(ct|cta|computed tomography)\b",
    "ultrasound": r"(?i)\b(us|ultrasound|sonogram|sonography|doppler|duplex)\b",
    "xray": r"(?i)\b(xray|x-ray|xr|radiograph|cr|dx|chest film)\b",
}


def _matched_code(text: pl.Expr) -> pl.Expr:
    """The first modality code whose pattern `text` contains, else null."""
    expr = pl.lit(None, dtype=pl.String)
    for code, pattern in reversed(MODALITY_PATTERNS.items()):
        expr = pl.when(text.str.contains(pattern)).then(pl.lit(code)).otherwise(expr)
    return expr


def modality_expr() -> pl.Expr:
    """Canonical modality code from the modality column, falling back on the exam description."""
    return pl.coalesce(_matched_code(pl.col("modality")), _matched_code(pl.col("exam")), pl.lit("unknown"))


def segment_by_modality(reports: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """One frame per modality code, rows in their original order."""
    coded = reports.with_columns(modality_expr().alias("modality"))
    return {code: coded.filter(pl.col("modality") == code) for code in sorted(coded["modality"].unique())}
