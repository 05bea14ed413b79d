"""One GPU stage at a time per GPU, taken inside a task only when it has work to do, on a GPU of its own.

A Prefect tag concurrency limit would be taken before Prefect looks in its cache, so every task served from cache
queued behind the others for a slot (about 2 s each: most of a fully cached run's minute and a half). Instead the
task takes the slot itself around the work: Prefect's global concurrency limit `gpu` (one slot per GPU, made by
`make up`; it spans flow runs and workers) and, within this process, a semaphore of the same size, so a flow run
without the limit (`python -m flows.capstone`, the test harness) still runs one trainer per GPU: torch's global
RNG, which seeds LoRA weights and data order, must not be shared by two trainers at once.

Each slot names a GPU: the worker hands its devices out one per slot (`gpu_slot` yields the index), and on a GPU
machine the stage runs in a process of its own bound to that GPU (`radimpress.stages.isolated`), so two stages
on two GPUs share no RNG, CUDA state or memory. One worker serves one node's GPUs; a team runs one worker per node.
On CPU the stages run in the worker's own process: a child would import torch again for every tiny stage.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import torch
from prefect.concurrency.sync import concurrency

from radimpress.stages.isolated import run_on_device

T = TypeVar("T")

GPU_LIMIT = "gpu"
DEVICES = max(torch.cuda.device_count(), 1)
ISOLATE = torch.cuda.is_available()  # a process per GPU stage where there are GPUs (module docstring)
_IN_PROCESS = threading.BoundedSemaphore(DEVICES)
_FREE_DEVICES: queue.SimpleQueue[int] = queue.SimpleQueue()
for _device in range(DEVICES):
    _FREE_DEVICES.put(_device)


@contextmanager
def gpu_slot() -> Iterator[int]:
    """Hold one GPU slot of this process and of the Prefect limit `gpu` (if it exists) for the block; yields the
    index of the GPU that is this block's alone."""
    with _IN_PROCESS, concurrency(GPU_LIMIT, occupy=1, lease_duration=300, strict=False):
        device = _FREE_DEVICES.get()  # never blocks: the semaphore admits no more holders than devices
        try:
            yield device
        finally:
            _FREE_DEVICES.put(device)


def on_gpu(stage: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`stage(*args, **kwargs)` in a GPU slot, on that slot's GPU (in its own process on a GPU machine)."""
    with gpu_slot() as device:
        return run_on_device(device, stage, *args, isolate=ISOLATE, **kwargs)
