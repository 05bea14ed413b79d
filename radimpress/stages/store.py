"""Stage folders: named by the stage's key, written whole or not at all.

A stage writes into `<key>.partial/` and renames it to `<key>/` once its record is written, so a folder named by a
key is always a finished result, and a stage killed half-way leaves only a `.partial` folder that no run trusts:
the next attempt starts it afresh, or, for a resumable stage (fine-tuning), carries on from its checkpoints.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from radimpress.files import data_dir
from radimpress.stages.keys import STAGE_RECORD, content_digests, stage_key

T = TypeVar("T")
KEY_LENGTH = 16  # hex digits of the key in a folder name: 64 bits


def stage(name: str, exclude: tuple[str, ...] = (), resumable: bool = False):
    """Make `fn(..., *, out)` a stage: called without `out`, it runs at most once per key.

    The key covers every argument but those in `exclude` (progress callbacks, injected faults), the source of
    the code `fn`'s module reaches, and library versions (`keys.stage_key`). A finished folder for the key is
    returned as it is; otherwise `fn` writes into a partial folder that is renamed into place when it returns.
    The wrapper's `.key(**arguments)` is the same key, for the Prefect task that caches the stage, and
    `.finished(**arguments)` says whether its folder is already there (nothing to run).
    """

    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        signature = inspect.signature(fn)
        parameters = [p for p in signature.parameters.values() if p.name != "out"]
        public = signature.replace(parameters=parameters)

        def key(*args: Any, **kwargs: Any) -> str:
            bound = public.bind(*args, **kwargs)
            bound.apply_defaults()
            inputs = {k: v for k, v in bound.arguments.items() if k not in exclude}
            return stage_key(fn.__module__, inputs)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> T:
            folder = stage_root(name) / key(*args, **kwargs)[:KEY_LENGTH]
            return run_in_folder(folder, lambda out: fn(*args, **kwargs, out=out), resumable)

        def finished(*args: Any, **kwargs: Any) -> bool:
            return (stage_root(name) / key(*args, **kwargs)[:KEY_LENGTH] / STAGE_RECORD).is_file()

        run.key = key  # type: ignore[attr-defined]
        run.finished = finished  # type: ignore[attr-defined]
        run.__signature__ = public  # type: ignore[attr-defined]
        return run

    return wrap


def stage_root(name: str) -> Path:
    return data_dir() / "stages" / name


def run_in_folder(folder: Path, build: Callable[[Path], T], resumable: bool = False) -> T:
    """The result recorded in `folder`, or `build(partial)`'s, made permanent by one rename."""
    if (folder / STAGE_RECORD).is_file():
        return finished_result(folder)
    partial = folder.with_name(folder.name + ".partial")
    if partial.exists() and not resumable:
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    result = build(partial)
    record = {"result": _relative(result, partial), "files": content_digests(partial)}
    (partial / STAGE_RECORD).write_text(json.dumps(record, indent=2, sort_keys=True))
    _publish(partial, folder)
    return finished_result(folder)


def finished_result(folder: Path) -> Any:
    """What the stage that wrote `folder` returned, its paths pointing into `folder`."""
    return _absolute(json.loads((folder / STAGE_RECORD).read_text())["result"], folder)


def _publish(partial: Path, folder: Path) -> None:
    try:
        os.rename(partial, folder)
    except OSError:
        if not (folder / STAGE_RECORD).is_file():
            raise
        shutil.rmtree(partial)  # another worker finished the same key first: same inputs, same code, keep theirs


def _relative(value: Any, root: Path) -> Any:
    """Paths inside `root` become {"path": relative}; results may also hold plain values and outside paths."""
    if isinstance(value, Path):
        if value.resolve().is_relative_to(root.resolve()):
            return {"path": value.resolve().relative_to(root.resolve()).as_posix()}
        return {"outside": str(value)}
    if isinstance(value, dict):
        return {"dict": {k: _relative(v, root) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"list": [_relative(v, root) for v in value]}
    return {"value": value}


def _absolute(value: dict[str, Any], root: Path) -> Any:
    ((kind, inner),) = value.items()
    if kind == "path":
        return root if inner == "." else root / inner
    if kind == "outside":
        return Path(inner)
    if kind == "dict":
        return {k: _absolute(v, root) for k, v in inner.items()}
    if kind == "list":
        return [_absolute(v, root) for v in inner]
    return inner
