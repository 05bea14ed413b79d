"""A review sample as the flow makes it: generated impressions of the top variants on the test split."""

from __future__ import annotations

import polars as pl
import pytest

from radimpress.sim.synthetic import generate_reports

VARIANTS = ("tiny-llama.findings.mri.1a2b3c", "tiny-mistral.findings_clinical.mri.4d5e6f")


def review_sample(n_reports: int = 7, seed: int = 0) -> pl.DataFrame:
    """`n_reports` reports x both variants: the first variant copies the reference, the second drops its last word."""
    reports = generate_reports(n_reports, seed).select(
        "report_id", "modality", "clinical_information", "findings", "impression"
    )
    frames = []
    for variant in VARIANTS:
        generated = pl.col("impression") if variant == VARIANTS[0] else pl.col("impression").str.replace(r"\s*\S+$", "")
        frames.append(
            reports.with_columns(
                pl.lit(variant).alias("variant_id"),
                pl.col("impression").alias("reference"),
                generated.alias("generated"),
            )
        )
    return pl.concat(frames)


@pytest.fixture
def sample() -> pl.DataFrame:
    return review_sample()
