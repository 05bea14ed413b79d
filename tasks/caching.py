"""Cache policies: a task caches under its stage's own key (the name of the stage's folder), plus its own source.

The key is derived, never listed by hand: the stage's inputs by content, the source of every library module the
stage reaches, and the versions of the libraries that shape results (`radimpress.stages.keys`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect.cache_policies import TASK_SOURCE, CacheKeyFnPolicy, CachePolicy


def stage_cache(stage_fn: Callable[..., Any]) -> CachePolicy:
    """Cache a task that calls `stage_fn` with its own parameters under that stage's key."""

    def key(_context: Any, parameters: dict[str, Any]) -> str:
        return stage_fn.key(**parameters)

    return CacheKeyFnPolicy(cache_key_fn=key) + TASK_SOURCE
