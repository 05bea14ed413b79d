"""Progress of long stages in the Prefect UI."""

from __future__ import annotations

from collections.abc import Callable

from prefect.artifacts import create_progress_artifact, update_progress_artifact


def progress_reporter(description: str, step: float = 5.0) -> Callable[[float], None]:
    """A callback that moves a Prefect progress artifact, at most every `step` percent."""
    artifact_id = create_progress_artifact(progress=0.0, description=description)
    last = [0.0]

    def report(percent: float) -> None:
        if percent - last[0] >= step or percent >= 100:
            last[0] = percent
            update_progress_artifact(artifact_id=artifact_id, progress=percent)

    return report
