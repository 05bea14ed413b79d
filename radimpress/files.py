"""All file reading and writing: frames as Parquet, records as JSON, under the data directory."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl


def data_dir() -> Path:
    """The project's data directory: $RADIMPRESS_DATA_DIR, else ./data."""
    return Path(os.environ.get("RADIMPRESS_DATA_DIR", "data")).resolve()


def write_frame(frame: pl.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path, statistics=False)
    return path


def read_frame(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path)


def write_json(obj: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))
    return path


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


RUN_FACTS = "run.json"  # timings, peak memory, resumed steps: facts of one run, never part of a downstream key
