"""Segment: one dataset per modality."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from radimpress.data.segment import segment_by_modality
from radimpress.errors import InputDataError
from radimpress.files import read_frame, write_frame
from radimpress.stages.store import stage


@stage("segment")
def segment_stage(ingest_dir: Path, model_modalities: list[str], *, out: Path) -> dict[str, Path]:
    """One parquet file per modality.

    Raises:
        InputDataError: a modality the profile models has no report.
    """
    segments = segment_by_modality(read_frame(ingest_dir / "reports.parquet"))
    require_modelled(segments, model_modalities)
    return {modality: write_frame(frame, out / f"{modality}.parquet") for modality, frame in segments.items()}


def require_modelled(segments: dict[str, pl.DataFrame], model_modalities: list[str]) -> None:
    """Raise InputDataError, naming what was found, when a modality the profile models has no report."""
    missing = [m for m in model_modalities if m not in segments]
    if missing:
        found = ", ".join(f"{m} {frame.height}" for m, frame in segments.items())
        raise InputDataError(f"no '{missing[0]}' reports to model (data.model_modalities); modalities found: {found}")
