"""EDA: per modality, section lengths, outliers, common impressions, quarantine and PHI counts."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from radimpress.data import eda
from radimpress.data.segment import with_modality
from radimpress.files import read_frame
from radimpress.stages.store import stage


@stage("eda")
def eda_stage(segments: dict[str, Path], ingest_dir: Path, show_text: bool = True, *, out: Path) -> Path:
    """An HTML report, a Markdown summary, CSV tables, plots and summary.json."""
    reports = pl.concat([read_frame(path) for path in segments.values()])
    quarantine = with_modality(read_frame(ingest_dir / "quarantine.parquet"))
    return eda.run_eda(reports, quarantine, read_frame(ingest_dir / "phi.parquet"), out, show_text)
