"""Ingest: the export (or the synthetic generator) into usable reports, quarantined rows and PHI counts."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from radimpress.config import DataConfig
from radimpress.data import phi
from radimpress.data.ingest import IngestResult, ingest
from radimpress.data.sections import other_sections_amounts
from radimpress.files import write_frame, write_json
from radimpress.stages.store import stage

PHI_COLUMNS = ("exam", "clinical_information", "findings", "impression", "other_sections")


@stage("ingest")
def ingest_stage(cfg: DataConfig, *, out: Path) -> Path:
    """reports.parquet (usable rows), quarantine.parquet (the rest, with reasons), phi.parquet (PHI pattern
    counts per column over every row read), counts.json (rows in = kept + quarantined, per reason; per reason too,
    the text of the kept reports that is outside their kept fields)."""
    result = ingest(cfg, work_dir=out / "transcoded")
    write_frame(result.reports, out / "reports.parquet")
    write_frame(result.quarantine, out / "quarantine.parquet")
    every_row = pl.concat([result.reports, result.quarantine], how="diagonal_relaxed")
    write_frame(phi.phi_counts(every_row, PHI_COLUMNS), out / "phi.parquet")
    write_json(ingest_counts(result), out / "counts.json")
    return out


def ingest_counts(result: IngestResult) -> dict[str, object]:
    by_reason = dict(result.quarantine.group_by("reason").len().sort("reason").iter_rows())
    counts = {"rows_in": result.rows_in, "kept": result.reports.height, "quarantined": result.quarantine.height}
    other = {"other_sections": other_sections_amounts(result.reports)}
    return counts | {"quarantined_by_reason": by_reason} | other | result.notes
