"""Deployment `capstone/full`: the capstone flow on a `process` work pool, smoke profile by default.

Create it (the Makefile's `make up` does): python deployments/capstone_full.py
Run a worker for it:                      prefect worker start --pool local --type process
Run it:                                   prefect deployment run capstone/full [--param profile=iu_xray]
"""

from __future__ import annotations

import os
from pathlib import Path

from flows.capstone import capstone

ROOT = Path(__file__).resolve().parents[1]


def deploy() -> None:
    """Register `capstone/full`; the worker runs the flow from this checkout."""
    capstone.from_source(source=str(ROOT), entrypoint="flows/capstone.py:capstone").deploy(
        name="full",
        work_pool_name=os.environ.get("RADIMPRESS_WORK_POOL", "local"),
        parameters={"profile": "smoke"},
        description="The capstone method end to end: fine-tune, generate, score, judge and compare.",
        tags=["capstone"],
        print_next_steps=False,
        ignore_warnings=True,
    )


if __name__ == "__main__":
    deploy()
