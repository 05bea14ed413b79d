"""CPU slots as tasks take them: stages one after another stay in the worker's process, two at once take it and a
kept stage process, and each gets the cores the other leaves. With a real Prefect test server and real processes."""

from __future__ import annotations

import os
import threading
import time

import pytest
import torch
from prefect.testing.utilities import prefect_test_harness

from tasks import gpu


@pytest.fixture(scope="module", autouse=True)
def prefect_server():
    with prefect_test_harness():
        yield


def _pid_and_threads_after(seconds: float) -> tuple[int, int]:
    time.sleep(seconds)
    return os.getpid(), torch.get_num_threads()


def test_stages_one_after_another_stay_in_this_process_on_every_core():
    threads = torch.get_num_threads()
    alone = [gpu.on_gpu(_pid_and_threads_after, 0) for _ in range(3)]
    assert alone == [(os.getpid(), gpu.CORES)] * 3
    assert all(worker.pid is None for worker in gpu._CPU_WORKERS.values())  # nothing was spawned
    assert torch.get_num_threads() == threads  # given back for the work between stages


@pytest.mark.skipif(gpu.SLOTS < 2 or gpu.CORES < 2, reason="needs two CPU slots and two cores")
def test_a_stage_that_starts_beside_another_takes_a_kept_process_and_the_core_left():
    first: list = []
    alone = threading.Thread(target=lambda: first.append(gpu.on_gpu(_pid_and_threads_after, 4)))
    alone.start()
    time.sleep(1.5)  # the first stage has started, alone: this process, every core
    beside = gpu.on_gpu(_pid_and_threads_after, 0)
    alone.join()
    assert first == [(os.getpid(), gpu.CORES)]
    assert beside == (gpu._CPU_WORKERS[1].pid, gpu.CORES // 2) and beside[0] != os.getpid()
    assert gpu.on_gpu(_pid_and_threads_after, 0) == (os.getpid(), gpu.CORES)  # the lowest free slot first


def test_cpu_slots_come_from_the_setting_or_the_cores_and_a_bad_setting_is_named():
    assert [gpu.cpu_slots(None, 1), gpu.cpu_slots("", 16), gpu.cpu_slots("3", 2)] == [1, 2, 3]
    for bad in ("0", "two", "-1", "1.5"):
        with pytest.raises(ValueError, match=f"RADIMPRESS_CPU_SLOTS must be a whole number of at least 1, not '{bad}'"):
            gpu.cpu_slots(bad, 2)
