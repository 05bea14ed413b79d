"""Small stages for the store's tests: one that can be paused half-way through writing, one that resumes."""

from __future__ import annotations

import time
from pathlib import Path

from radimpress.files import write_json
from radimpress.stages.store import stage

CALLS: list[str] = []


@stage("test-two-files", exclude=("pause_file",))
def two_files(n: int, pause_file: str | None = None, *, out: Path) -> dict[str, Path]:
    """Writes one file, waits while `pause_file` exists (a test kills it there), writes the second."""
    CALLS.append("two_files")
    first = write_json({"n": n}, out / "first.json")
    while pause_file and Path(pause_file).exists():
        (out / "waiting").touch()
        time.sleep(0.05)
    return {"first": first, "second": write_json({"n": n * 2}, out / "second.json")}


@stage("test-resumable", resumable=True)
def resumable(n: int, fail: bool = False, *, out: Path) -> Path:
    """Counts its attempts in its partial folder; fails when asked to."""
    attempts = out / "attempts.txt"
    attempts.write_text(str(int(attempts.read_text()) + 1 if attempts.exists() else 1))
    if fail:
        raise RuntimeError("failed on purpose")
    return attempts


@stage("test-with-facts")
def with_facts(n: int, seconds: float = 0.0, *, out: Path) -> Path:
    """A result and the facts of its run (which downstream keys ignore)."""
    write_json({"seconds": seconds}, out / "run.json")
    return write_json({"n": n}, out / "result.json")
