"""Cache policies: a task's key is its inputs by content, its own source, and the source of the library it calls."""

from __future__ import annotations

import hashlib
import inspect
from types import ModuleType
from typing import Any

from prefect.cache_policies import TASK_SOURCE, CacheKeyFnPolicy, CachePolicy

from radimpress.io import digest_json


def content_inputs(exclude: tuple[str, ...] = ()) -> CachePolicy:
    """Like Prefect's INPUTS, but a Path counts by the digest of its content, not its name.

    So editing an input file re-runs the task, and an unchanged file under a new name does not.
    """

    def key(_context: Any, parameters: dict[str, Any]) -> str:
        return digest_json({name: value for name, value in parameters.items() if name not in exclude})

    return CacheKeyFnPolicy(cache_key_fn=key)


def library_source(*modules: ModuleType) -> CachePolicy:
    """The source of the library modules a task calls: changing the method invalidates its results."""
    digest = hashlib.sha256("".join(inspect.getsource(m) for m in modules).encode()).hexdigest()
    return CacheKeyFnPolicy(cache_key_fn=lambda _context, _parameters: digest)


def cached(*modules: ModuleType, exclude: tuple[str, ...] = ()) -> CachePolicy:
    """Inputs by content + task source + library source."""
    return content_inputs(exclude) + TASK_SOURCE + library_source(*modules)
