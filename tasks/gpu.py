"""One GPU stage at a time per GPU, taken inside a task only when it has work to do.

A Prefect tag concurrency limit would be taken before Prefect looks in its cache, so every task served from cache
queued behind the others for a slot (about 2 s each: most of a fully cached run's minute and a half). Instead the
task takes the slot itself around the work: Prefect's global concurrency limit `gpu` (one slot per GPU, made by
`make up`; it spans flow runs and workers) and, within this process, a semaphore of the same size, so a flow run
without the limit (`python -m flows.capstone`, the test harness) still runs one trainer per GPU: torch's global
RNG, which seeds LoRA weights and data order, must not be shared by two trainers at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from prefect.concurrency.sync import concurrency

GPU_LIMIT = "gpu"
_IN_PROCESS = threading.BoundedSemaphore(max(torch.cuda.device_count(), 1))


@contextmanager
def gpu_slot() -> Iterator[None]:
    """Hold one GPU slot of this process and of the Prefect limit `gpu` (if it exists) for the block."""
    with _IN_PROCESS, concurrency(GPU_LIMIT, occupy=1, lease_duration=300, strict=False):
        yield
