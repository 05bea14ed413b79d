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
On CPU there are `CPU_SLOTS` slots (two, or $RADIMPRESS_CPU_SLOTS): the first is the worker's own process, each
other one a stage process kept for the flow run's life (a process per tiny stage would spend longer importing torch
than working), so two stages at once still share no RNG. A stage gets the cores that the stages beside it leave:
two one-thread trainers side by side get through 1.2-1.6x the work of one two-thread trainer on 2 cores, and a stage
alone, like the judge's training, still gets both.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import torch
from prefect.concurrency.sync import concurrency

from radimpress.stages.isolated import StageWorker, run_on_device

T = TypeVar("T")

GPU_LIMIT = "gpu"
CORES = len(os.sched_getaffinity(0))


def cpu_slots(setting: str | None, cores: int) -> int:
    """Stage slots on a CPU-only machine: $RADIMPRESS_CPU_SLOTS when set, else two (one on a single core)."""
    if not setting:
        return min(2, cores)
    if not setting.strip().isdigit() or int(setting) < 1:
        raise ValueError(f"RADIMPRESS_CPU_SLOTS must be a whole number of at least 1, not {setting!r}")
    return int(setting)


CPU_SLOTS = cpu_slots(os.environ.get("RADIMPRESS_CPU_SLOTS"), CORES)
ISOLATE = torch.cuda.is_available()  # a fresh process per GPU stage where there are GPUs (module docstring)
SLOTS = torch.cuda.device_count() if ISOLATE else CPU_SLOTS
# On CPU, slot 0 is this process and every other slot a kept stage process, started when first needed: a flow run
# whose stages never overlap spawns nothing.
_CPU_WORKERS = {} if ISOLATE else {slot: StageWorker(slot) for slot in range(1, SLOTS)}
_IN_PROCESS = threading.BoundedSemaphore(SLOTS)
_FREE_DEVICES: queue.PriorityQueue[int] = queue.PriorityQueue()  # the lowest free slot first
for _device in range(SLOTS):
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
    """`stage(*args, **kwargs)` in a GPU slot, in a process of that slot's (fresh for each stage on a GPU)."""
    with _wanting_a_slot(), gpu_slot() as device:
        if ISOLATE:
            return run_on_device(device, stage, *args, isolate=True, **kwargs)
        if device in _CPU_WORKERS:
            return _CPU_WORKERS[device].run(stage, *args, torch_threads=cpu_threads(), **kwargs)
        return _in_this_process(stage, *args, **kwargs)


def _in_this_process(stage: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    threads = torch.get_num_threads()
    torch.set_num_threads(cpu_threads())
    try:
        return run_on_device(0, stage, *args, isolate=False, **kwargs)
    finally:
        torch.set_num_threads(threads)  # scoring, between stages, has the cores back


_wanting = 0  # stages of this process that hold a slot or wait for one
_wanting_lock = threading.Lock()


@contextmanager
def _wanting_a_slot() -> Iterator[None]:
    global _wanting
    with _wanting_lock:
        _wanting += 1
    try:
        yield
    finally:
        with _wanting_lock:
            _wanting -= 1


def cpu_threads() -> int:
    """Torch threads for a CPU stage starting now: the cores shared among the slots that stages hold or wait for,
    so the judge, which trains alone, gets them all, and a fine-tune that starts while its neighbour's slot changes
    hands does not take that neighbour's core. (Tiny models train to the same bits on 1 or 2 threads here.)"""
    return max(1, CORES // min(SLOTS, max(_wanting, 1)))


@atexit.register
def _stop_cpu_workers() -> None:
    for worker in _CPU_WORKERS.values():
        worker.stop()
