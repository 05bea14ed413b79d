"""Caching through Prefect: a fine-tune re-run after a forced cache miss that gives a byte-identical adapter leaves
generation and scoring served from cache, because their keys follow the adapter's content, not the run's facts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from prefect import flow
from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, PREFECT_SERVER_ANALYTICS_ENABLED, temporary_settings
from prefect.testing.utilities import prefect_test_harness

from radimpress.config import (
    DataConfig,
    GenerateConfig,
    LoraConfig,
    ScoreConfig,
    SplitConfig,
    TinyBaseConfig,
    TrainConfig,
)
from radimpress.config.variants import VariantSpec
from radimpress.data.ingest import ingest
from radimpress.data.split import split_reports
from radimpress.files import RUN_FACTS, read_json, write_frame
from radimpress.stages.base import tiny_base_stage
from tasks.evaluation import score
from tasks.modeling import finetune, generate_impressions

VARIANT = VariantSpec(
    "mri", "tiny-llama", "findings", LoraConfig(), TrainConfig(epochs=1, batch_size=8, max_length=128, seed=0)
)


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    """A Prefect test server, result storage and a data directory of the test's own, a tiny base and two splits."""
    data = tmp_path_factory.mktemp("cache-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RADIMPRESS_DATA_DIR", str(data))
        reports = ingest(DataConfig(n_reports=80, seed=3)).reports.filter(modality="mri")
        splits = split_reports(reports, SplitConfig(train=0.7, validation=0.1, test=0.2))
        paths = {name: write_frame(frame, data / f"{name}.parquet") for name, frame in splits.items()}
        base = tiny_base_stage("tiny-llama", paths["train"], TinyBaseConfig(pretrain_reports=100, pretrain_steps=5))
        settings = {PREFECT_LOCAL_STORAGE_PATH: str(data / "results"), PREFECT_SERVER_ANALYTICS_ENABLED: False}
        with temporary_settings(settings), prefect_test_harness():
            yield data, base, paths


@flow
def finetune_generate_score(base: Path, train: Path, validation: Path, test: Path, refresh: bool) -> dict[str, object]:
    tuned = finetune.with_options(refresh_cache=refresh)(VARIANT, base, train, validation, return_state=True)
    generated = generate_impressions(VARIANT, base, tuned.result(), test, GenerateConfig(), return_state=True)
    scored = score(generated.result(), ScoreConfig(), return_state=True)
    return {
        "states": [state.name for state in (tuned, generated, scored)],
        "paths": [state.result() for state in (tuned, generated, scored)],
    }


def test_a_forced_fine_tune_rerun_with_an_identical_adapter_keeps_generate_and_score_cached(setting):
    data, base, paths = setting
    first = finetune_generate_score(base, paths["train"], paths["validation"], paths["test"], refresh=False)
    assert first["states"] == ["Completed", "Completed", "Completed"]
    finetune_dir = first["paths"][0]
    adapter_bytes = (finetune_dir / "adapter" / "adapter_model.safetensors").read_bytes()
    first_facts = read_json(finetune_dir / RUN_FACTS)

    shutil.rmtree(data / "stages" / "finetune")  # the adapter is gone: the fine-tune really runs again
    second = finetune_generate_score(base, paths["train"], paths["validation"], paths["test"], refresh=True)
    print(f"states after a forced fine-tune: {second['states']}")
    assert second["states"] == ["Completed", "Cached", "Cached"]
    assert (finetune_dir / "adapter" / "adapter_model.safetensors").read_bytes() == adapter_bytes
    assert read_json(finetune_dir / RUN_FACTS)["train_seconds"] != first_facts["train_seconds"]  # a new run's facts
    assert second["paths"][1:] == first["paths"][1:]
