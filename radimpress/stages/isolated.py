"""A GPU stage in a process of its own, bound to one GPU: its RNG, CUDA context, accelerate state and memory are its
own, and all of it is freed when the process exits.

Threads of one worker share torch's global RNG (which seeds LoRA weights and data order), the CUDA peak-memory
counters and every model a stage forgot to free; a stage run here shares none of it. `CUDA_VISIBLE_DEVICES` is set
in the child before anything touches CUDA (it is read when CUDA initialises, not when torch is imported), so the
stage sees its GPU as `cuda:0` and no other. The child is spawned, never forked: a fork of a process that has
initialised CUDA, or that runs threads, is undefined.

A spawned child imports torch and transformers again (seconds on a CPU), which is noise beside a GPU fine-tune but
not beside the tiny CPU stages: callers isolate on a GPU machine, and run in-process on CPU.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
from collections.abc import Callable
from typing import Any

from radimpress.errors import RadimpressError

_POLL_SECONDS = 0.5


class StageProcessDied(RadimpressError):
    """The stage's process ended without a result: killed (out of memory, SIGKILL) or crashed in native code."""


def run_on_device(
    device: int,
    stage: Callable[..., Any],
    *args: Any,
    isolate: bool,
    on_progress: Callable[[float], None] | None = None,
    **kwargs: Any,
) -> Any:
    """`stage(*args, **kwargs, on_progress=...)` bound to GPU `device`: in a spawned process when `isolate`, else here.

    Progress the child reports reaches `on_progress` in this process; the child's exception is raised here.

    Raises:
        StageProcessDied: the child ended without sending a result.
    """
    if not isolate:
        return stage(*args, **kwargs, **({"on_progress": on_progress} if on_progress else {}))
    context = multiprocessing.get_context("spawn")
    progress, results = context.Queue(), context.Queue()
    child = context.Process(
        target=_child,
        args=(device, stage, args, kwargs, progress if on_progress else None, results),
        name=f"gpu{device}-{getattr(stage, '__name__', 'stage')}",
        daemon=True,  # a worker that dies takes its stages with it
    )
    child.start()
    try:
        return _await_result(child, progress, results, on_progress)
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()


def _await_result(child, progress, results, on_progress) -> Any:
    while True:
        _forward_progress(progress, on_progress)
        try:
            status, value = results.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            if not child.is_alive() and results.empty():
                raise StageProcessDied(
                    f"the GPU stage process {child.name} ended with exit code {child.exitcode} and no result "
                    "(killed for memory, or a crash in native code)"
                ) from None
            continue
        _forward_progress(progress, on_progress)
        if status == "error":
            raise value
        return value


def _forward_progress(progress, on_progress) -> None:
    if on_progress is None:
        return
    while True:
        try:
            on_progress(progress.get_nowait())
        except queue.Empty:
            return


def _child(device, stage, args, kwargs, progress, results) -> None:
    os.environ["CUDA_VISIBLE_DEVICES"] = str(device)  # before anything initialises CUDA
    if progress is not None:
        kwargs["on_progress"] = progress.put
    try:
        results.put(("ok", stage(*args, **kwargs)))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent, which raises it
        results.put(("error", _picklable(exc)))


def _picklable(exc: BaseException) -> BaseException:
    """`exc`, or a RadimpressError with its type and message when it cannot cross the process boundary."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any pickling failure
        return RadimpressError(f"{type(exc).__name__}: {exc}")
