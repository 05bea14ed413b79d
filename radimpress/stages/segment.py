"""Segment: one dataset per modality."""

from __future__ import annotations

from pathlib import Path

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
    missing = [m for m in model_modalities if m not in segments]
    if missing:
        raise InputDataError(
            f"no '{missing[0]}' reports to model (data.model_modalities); modalities found: {', '.join(segments)}"
        )
    return {modality: write_frame(frame, out / f"{modality}.parquet") for modality, frame in segments.items()}
