"""Split: train / validation / test of one modality's dataset."""

from __future__ import annotations

from pathlib import Path

from radimpress.config import SplitConfig
from radimpress.data.split import split_overlap, split_reports
from radimpress.errors import InputDataError
from radimpress.files import read_frame, write_frame, write_json
from radimpress.stages.store import stage


@stage("split")
def split_stage(dataset: Path, cfg: SplitConfig, *, out: Path) -> dict[str, Path]:
    """train.parquet, validation.parquet and test.parquet (later stages take only the file they read), and
    overlap.json: how much of validation and test also occurs in train."""
    splits = split_reports(read_frame(dataset), cfg)
    counts = {name: frame.height for name, frame in splits.items()}
    if not all(counts.values()):
        empty = next(name for name, n in counts.items() if not n)
        raise InputDataError(
            f"{dataset.stem}: the {empty} split is empty (train/validation/test = {counts}); models are chosen on "
            f"validation and reported on test, so each needs reports: add reports or raise split.{empty}"
        )
    paths = {name: write_frame(frame, out / f"{name}.parquet") for name, frame in splits.items()}
    return paths | {"overlap": write_json(split_overlap(splits), out / "overlap.json")}
