"""A GPU stage in a process of its own, bound to one GPU: its RNG, CUDA context, accelerate state and memory are its
own, and all of it is freed when the process exits.

Threads of one worker share torch's global RNG (which seeds LoRA weights and data order), the CUDA peak-memory
counters and every model a stage forgot to free; a stage run here shares none of it. `CUDA_VISIBLE_DEVICES` is set
in the child before anything touches CUDA (it is read when CUDA initialises, not when torch is imported), so the
stage sees its GPU as `cuda:0` and no other. The child is spawned, never forked: a fork of a process that has
initialised CUDA, or that runs threads, is undefined.

A spawned child imports torch and transformers again (seconds on a CPU), which is noise beside a GPU fine-tune but
not beside the tiny CPU stages. So on a GPU machine each stage gets a fresh process (`run_on_device`, which frees
all GPU memory at exit), and on CPU a `StageWorker` keeps its process for many stages.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import threading
from collections.abc import Callable
from typing import Any

from radimpress.errors import RadimpressError

_POLL_SECONDS = 0.5
_IDLE_CHECK_SECONDS = 5


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
        return _result(*_await_reply(child, progress, results, on_progress))
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()


def _result(status: str, value: Any) -> Any:
    if status == "error":
        raise value
    return value


def _await_reply(child, progress, results, on_progress) -> tuple[str, Any]:
    """("ok", the stage's result) or ("error", its exception), forwarding progress while it runs."""
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
        return status, value


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
    _run_job(stage, args, kwargs, progress, results)


def _run_job(stage, args, kwargs, progress, results) -> None:
    if progress is not None:
        kwargs["on_progress"] = progress.put
    try:
        results.put(("ok", stage(*args, **kwargs)))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent, which raises it
        results.put(("error", _picklable(exc)))


class StageWorker:
    """One spawned process that runs stages one after another, bound to GPU `device`.

    The process starts on the first `run` and again after one that died. Each job carries the caller's environment
    (a data directory set after the process started still applies) and its torch thread count, and is pickled here,
    so an argument that cannot cross the process boundary fails in the caller at once.
    """

    def __init__(self, device: int):
        self.device = device
        self._context = multiprocessing.get_context("spawn")
        self._process = None
        self._lock = threading.Lock()  # one job at a time: results carry no job id

    def run(
        self,
        stage: Callable[..., Any],
        *args: Any,
        torch_threads: int = 1,
        on_progress: Callable[[float], None] | None = None,
        **kwargs: Any,
    ) -> Any:
        """`stage(*args, **kwargs, on_progress=...)` in this worker's process on `torch_threads` threads; its
        exception is raised here.

        Raises:
            StageProcessDied: the process ended without sending a result (the next `run` starts a new one).
        """
        job = pickle.dumps((dict(os.environ), torch_threads, stage, args, kwargs, on_progress is not None))
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._start()
            self._jobs.put(job)
            try:
                reply = _await_reply(self._process, self._progress, self._results, on_progress)
            except BaseException:
                self.stop()  # died, or the caller gave up waiting: a stage still running must not answer later
                raise
        return _result(*reply)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.kill()
        self._process.join(timeout=10)
        for channel in (self._jobs, self._progress, self._results):
            channel.close()
        # Dropped now, their semaphores are freed now, not reported as leaked when the interpreter exits.
        self._process = self._jobs = self._progress = self._results = None

    def _start(self) -> None:
        self._jobs, self._progress, self._results = (self._context.Queue() for _ in range(3))
        self._process = self._context.Process(
            target=_serve,
            args=(self.device, self._jobs, self._progress, self._results),
            name=f"slot{self.device}-stages",
            daemon=True,  # a worker that dies takes its stages with it
        )
        self._process.start()


def _serve(device, jobs, progress, results) -> None:
    import torch

    while True:
        try:
            job = jobs.get(timeout=_IDLE_CHECK_SECONDS)
        except queue.Empty:
            if multiprocessing.parent_process().is_alive():
                continue
            return  # the worker was killed without stopping us: nobody is left to send jobs
        environment, threads, stage, args, kwargs, wants_progress = pickle.loads(job)
        torch.set_num_threads(threads)
        os.environ.clear()
        os.environ.update(environment, CUDA_VISIBLE_DEVICES=str(device))
        _run_job(stage, args, kwargs, progress if wants_progress else None, results)


def _picklable(exc: BaseException) -> BaseException:
    """`exc`, or a RadimpressError with its type and message when it cannot cross the process boundary."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any pickling failure
        return RadimpressError(f"{type(exc).__name__}: {exc}")
