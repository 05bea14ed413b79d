"""GPU stages in processes of their own: each bound to its slot's GPU, two at once giving what one after the other
gives, progress and errors carried back, a killed process reported; on CPU, one process kept per slot for many
stages. With real spawned processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from radimpress.config import LoraConfig, SplitConfig, TinyBaseConfig, TrainConfig
from radimpress.config.variants import VariantSpec
from radimpress.data.split import split_reports
from radimpress.files import RUN_FACTS, read_json, write_frame
from radimpress.sim.synthetic import generate_reports
from radimpress.sim.tiny import build_tiny_base
from radimpress.stages.finetune import finetune_stage
from radimpress.stages.isolated import StageProcessDied, StageWorker, run_on_device


def _fresh_process(device: int, stage, *args, **kwargs):
    return run_on_device(device, stage, *args, isolate=True, **kwargs)


def _at_once(calls: list[tuple], runner=_fresh_process) -> list:
    """Run each (device, stage, args, kwargs) in its own thread at the same time; their results in order."""
    results: list = [None] * len(calls)

    def run(index: int, device: int, stage, args: tuple, kwargs: dict) -> None:
        results[index] = runner(device, stage, *args, **kwargs)

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_each_stage_process_sees_only_the_gpu_of_its_slot():
    seen = _at_once([(0, os.getenv, ("CUDA_VISIBLE_DEVICES",), {}), (1, os.getenv, ("CUDA_VISIBLE_DEVICES",), {})])
    assert seen == ["0", "1"]
    assert os.environ.get("CUDA_VISIBLE_DEVICES") != "1"  # the worker's own environment is untouched


def test_the_stages_error_is_raised_in_the_worker():
    with pytest.raises(ValueError, match="invalid literal for int"):
        run_on_device(0, int, "not a number", isolate=True)


def test_a_stage_process_that_dies_without_a_result_is_reported_with_its_exit_code():
    with pytest.raises(StageProcessDied, match="ended with exit code 3 and no result"):
        run_on_device(0, os._exit, 3, isolate=True)


@pytest.fixture
def worker():
    worker = StageWorker(1)
    yield worker
    worker.stop()


def test_a_stage_worker_keeps_one_process_bound_to_its_slot_for_many_stages(worker, monkeypatch):
    first = worker.run(os.getpid)
    assert first != os.getpid() and worker.pid == first
    assert worker.run(os.getenv, "CUDA_VISIBLE_DEVICES") == "1"
    assert [worker.run(torch.get_num_threads, torch_threads=n) for n in (2, 1)] == [2, 1]  # set per stage
    monkeypatch.setenv("RADIMPRESS_DATA_DIR", "/set/after/the/process/started")  # a test's, or a profile's
    assert worker.run(os.getenv, "RADIMPRESS_DATA_DIR") == "/set/after/the/process/started"
    assert worker.run(os.getpid) == first


def test_a_stage_workers_errors_are_raised_in_the_caller_and_a_dead_process_is_replaced(worker):
    first = worker.run(os.getpid)
    with pytest.raises(ValueError, match="invalid literal for int"):
        worker.run(int, "not a number")
    assert worker.run(os.getpid) == first  # the stage failed, not the process
    with pytest.raises(StageProcessDied, match="ended with exit code 3 and no result"):
        worker.run(os._exit, 3)
    assert worker.run(os.getpid) not in (first, None)
    with pytest.raises(AttributeError, match="Can't pickle local object"):  # at once, not in a feeder thread
        worker.run(len, lambda: "cannot cross a process boundary")


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent (now init) has not reaped it yet


def test_a_stage_process_whose_worker_was_killed_exits_by_itself():
    # os._exit skips multiprocessing's exit handler, as SIGKILL or a crash of the worker would.
    worker_then_killed = (
        "import os; from radimpress.stages.isolated import StageWorker; "
        "print(StageWorker(0).run(os.getpid), flush=True); os._exit(0)"
    )
    done = subprocess.run([sys.executable, "-c", worker_then_killed], capture_output=True, text=True, timeout=120)
    orphan = int(done.stdout.split()[-1])
    deadline = time.monotonic() + 30
    while _running(orphan) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _running(orphan)


@pytest.fixture(scope="module")
def training(tmp_path_factory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("isolated")
    reports = generate_reports(120, seed=5).filter(modality="mri")
    splits = split_reports(reports, SplitConfig(train=0.8, validation=0.1, test=0.1))
    texts = [t for column in ("findings", "clinical_information") for t in splits["train"][column]]
    base = build_tiny_base("tiny-llama", texts, TinyBaseConfig(vocab_size=400, pretrain_steps=0), folder / "base")
    return (
        base,
        write_frame(splits["train"], folder / "train.parquet"),
        write_frame(splits["validation"], folder / "v.parquet"),
    )


@pytest.mark.parametrize("kept", [False, True], ids=["fresh-process-per-stage", "process-kept-per-slot"])
def test_two_fine_tunes_at_once_on_two_slots_equal_the_sequential_run(training, tmp_path, monkeypatch, kept):
    base, train, validation = training
    workers = [StageWorker(device) for device in (0, 1)]
    runner = (lambda device, stage, *a, **k: workers[device].run(stage, *a, **k)) if kept else _fresh_process
    variants = [
        VariantSpec(
            "mri",
            "tiny-llama",
            "findings",
            LoraConfig(r=4),
            TrainConfig(epochs=2, batch_size=8, max_length=128, learning_rate=rate),
        )
        for rate in (0.01, 0.003)
    ]
    monkeypatch.setenv("RADIMPRESS_DATA_DIR", str(tmp_path / "sequential"))
    one_by_one = [finetune_stage(variant, base, train, validation) for variant in variants]
    monkeypatch.setenv("RADIMPRESS_DATA_DIR", str(tmp_path / "at-once"))  # the children inherit it
    progress: list[list[float]] = [[], []]
    calls = [
        (device, finetune_stage, (variant, base, train, validation), {"on_progress": progress[device].append})
        for device, variant in enumerate(variants)
    ]
    at_once = _at_once(calls, runner)
    for worker in workers:
        worker.stop()
    assert [Path(p).parent.parent for p in at_once] == [tmp_path / "at-once" / "stages"] * 2
    for sequential, parallel in zip(one_by_one, at_once, strict=True):
        expected, got = read_json(sequential / RUN_FACTS), read_json(parallel / RUN_FACTS)
        assert got["losses"] == pytest.approx(expected["losses"], rel=1e-5) and len(got["losses"]) > 4
        losses = [point["loss"] for point in expected["validation_losses"]]
        assert [point["loss"] for point in got["validation_losses"]] == pytest.approx(losses, rel=1e-5)
    assert all(values and values[-1] == 100.0 for values in progress)  # the children's progress reached the worker


def test_a_fine_tune_on_one_torch_thread_gives_the_adapter_of_two(training, tmp_path, monkeypatch):
    # A CPU stage gets one or two threads as the load decides (tasks.gpu.cpu_threads): its result must not change.
    base, train, validation = training
    variant = VariantSpec("mri", "tiny-llama", "findings", LoraConfig(r=4), TrainConfig(epochs=1, batch_size=8))
    worker = StageWorker(0)
    adapters = []
    for threads in (1, 2):
        monkeypatch.setenv("RADIMPRESS_DATA_DIR", str(tmp_path / f"threads-{threads}"))
        out = worker.run(finetune_stage, variant, base, train, validation, torch_threads=threads)
        adapters.append(next(Path(out).rglob("adapter_model.safetensors")).read_bytes())
    worker.stop()
    assert adapters[0] == adapters[1]
