"""EDA: per modality, section lengths, outliers, common impressions, quarantine and PHI counts."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from radimpress.data import eda
from radimpress.data.segment import with_modality
from radimpress.files import read_frame, read_json
from radimpress.stages.store import stage


@stage("eda")
def eda_stage(
    segments: dict[str, Path],
    ingest_dir: Path,
    show_text: bool = True,
    overlaps: dict[str, Path] | None = None,
    *,
    out: Path,
) -> Path:
    """An HTML report, a Markdown summary, CSV tables, plots and summary.json; with the splits' overlap.json files,
    what of validation and test also occurs in train."""
    reports = pl.concat([read_frame(path) for path in segments.values()])
    quarantine = with_modality(read_frame(ingest_dir / "quarantine.parquet"))
    overlap = overlap_table(overlaps) if overlaps else None
    return eda.run_eda(reports, quarantine, read_frame(ingest_dir / "phi.parquet"), out, show_text, overlap)


def overlap_table(overlaps: dict[str, Path]) -> pl.DataFrame:
    """One row per modality and split (validation, test) from the split stage's overlap.json files."""
    rows = [
        {"modality": modality, "split": split, **counts}
        for modality, path in overlaps.items()
        for split, counts in read_json(path).items()
    ]
    return pl.DataFrame(rows)
