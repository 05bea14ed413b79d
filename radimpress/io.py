"""All file reading and writing, and the content digests that name stage folders."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import polars as pl

from radimpress.errors import InputDataError


def data_dir() -> Path:
    """The project's data directory: $RADIMPRESS_DATA_DIR, else ./data."""
    return Path(os.environ.get("RADIMPRESS_DATA_DIR", "data")).resolve()


def digest_path(path: Path) -> str:
    """sha256 of a file's bytes, or of a folder's relative file names and bytes."""
    path = Path(path)
    sha = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        sha.update(str(file.relative_to(path)).encode() if path.is_dir() else b"")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                sha.update(block)
    return sha.hexdigest()


def digest_json(obj: Any) -> str:
    """sha256 of a JSON-able object (Paths become their content digest, so equal content gives equal keys)."""
    return hashlib.sha256(json.dumps(_stable(obj), sort_keys=True).encode()).hexdigest()


def _stable(obj: Any) -> Any:
    if isinstance(obj, Path):
        return {"digest": digest_path(obj)} if obj.exists() else {"missing": str(obj)}
    if isinstance(obj, dict):
        return {str(k): _stable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        items = [_stable(v) for v in obj]
        return sorted(items, key=json.dumps) if isinstance(obj, set | frozenset) else items
    if hasattr(obj, "model_dump"):  # pydantic config sections
        return _stable(obj.model_dump(mode="python"))
    if hasattr(obj, "__dataclass_fields__"):
        return _stable({name: getattr(obj, name) for name in obj.__dataclass_fields__})
    return obj


def stage_dir(stage: str, *key: Any) -> Path:
    """A folder for one stage's outputs, named by the digest of everything the outputs depend on.

    Equal inputs write to the same folder (idempotent re-runs); different inputs never overwrite
    each other, so a cached result always points at the files it was made from.
    """
    folder = data_dir() / "stages" / stage / digest_json(list(key))[:16]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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


def read_export(path: Path) -> pl.DataFrame:
    """Read a CSV or Parquet export with every column as text.

    Raises:
        InputDataError: the file is missing, of an unknown kind, or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"input file not found: {path}")
    try:
        if path.suffix.lower() == ".csv":
            return pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pl.read_parquet(path)
            return frame.with_columns(pl.all().cast(pl.String))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputDataError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    raise InputDataError(f"input file {path} must be .csv or .parquet, not '{path.suffix}'")
