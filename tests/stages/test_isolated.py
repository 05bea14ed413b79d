"""GPU stages in processes of their own: each bound to its slot's GPU, two at once giving what one after the other
gives, progress and errors carried back, a killed process reported. On CPU, with real spawned processes."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from radimpress.config import LoraConfig, SplitConfig, TinyBaseConfig, TrainConfig
from radimpress.config.variants import VariantSpec
from radimpress.data.split import split_reports
from radimpress.files import RUN_FACTS, read_json, write_frame
from radimpress.sim.synthetic import generate_reports
from radimpress.sim.tiny import build_tiny_base
from radimpress.stages.finetune import finetune_stage
from radimpress.stages.isolated import StageProcessDied, run_on_device


def _at_once(calls: list[tuple]) -> list:
    """Run each (device, stage, args, kwargs) in its own thread at the same time; their results in order."""
    results: list = [None] * len(calls)

    def run(index: int, device: int, stage, args: tuple, kwargs: dict) -> None:
        results[index] = run_on_device(device, stage, *args, isolate=True, **kwargs)

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


def test_two_fine_tunes_at_once_on_two_slots_equal_the_sequential_run(training, tmp_path, monkeypatch):
    base, train, validation = training
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
    at_once = _at_once(calls)
    assert [Path(p).parent.parent for p in at_once] == [tmp_path / "at-once" / "stages"] * 2
    for sequential, parallel in zip(one_by_one, at_once, strict=True):
        expected, got = read_json(sequential / RUN_FACTS), read_json(parallel / RUN_FACTS)
        assert got["losses"] == pytest.approx(expected["losses"], rel=1e-5) and len(got["losses"]) > 4
        losses = [point["loss"] for point in expected["validation_losses"]]
        assert [point["loss"] for point in got["validation_losses"]] == pytest.approx(losses, rel=1e-5)
    assert all(values and values[-1] == 100.0 for values in progress)  # the children's progress reached the worker
