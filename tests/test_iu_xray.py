"""The real IU X-ray export (../shared/data/iu_xray) through ingest and EDA, with the known counts."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from radimpress import stages
from radimpress.config import load_profile
from radimpress.io import read_json

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT.parent / "shared/data/iu_xray/indiana_reports.csv"
pytestmark = pytest.mark.skipif(not CSV.is_file(), reason="IU X-ray data not beside the project")


def test_iu_xray_ingest_and_eda_keep_every_row(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the profile's path is relative to the project root, where the worker runs
    monkeypatch.setenv("RADIMPRESS_DATA_DIR", str(tmp_path))
    profile = load_profile("iu_xray")
    ingest_dir = stages.ingest_stage(profile.data)
    assert read_json(ingest_dir / "counts.json") == {"rows_in": 3851, "kept": 3331, "quarantined": 520}
    reasons = pl.read_parquet(ingest_dir / "quarantine.parquet")["reason"].value_counts().sort("reason")
    assert dict(reasons.iter_rows()) == {"no_findings": 514, "no_impression": 6}
    segments = stages.segment_stage(ingest_dir, profile.data.model_modalities)
    assert list(segments) == ["xray"]
    eda_dir = stages.eda_stage(segments, ingest_dir)
    words = pl.read_csv(eda_dir / "word_counts.csv").filter(pl.col("section") == "impression")
    assert words["reports"].item() == 3331 and 3 <= words["median"].item() <= 8
    assert "no_findings | 514" in (eda_dir / "eda.md").read_text()
