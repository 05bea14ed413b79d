"""Data tasks: ingest, segment, EDA, split."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from radimpress import (
    config,
    eda,
    ingest,
    io,
    markdown,
    models,
    phi,
    readers,
    sections,
    segment,
    split,
    stages,
    synthetic,
    validation,
)
from radimpress.config import DataConfig, Profile, SplitConfig
from tasks.caching import cached


@task(cache_policy=NO_CACHE)
def load_config(profile: str) -> Profile:
    """Load and validate the profile; check every pretrained model is on this machine before any work."""
    loaded = config.load_profile(profile)
    token = models.hub_token(hub_token_from_secret(loaded.hub.token_secret) if loaded.hub.download else None)
    models.preflight(loaded, token)
    return loaded


def hub_token_from_secret(block_name: str) -> str | None:
    """The Hub token kept in the Prefect Secret block `block_name` (None when there is no such block).

    The token stays inside this task: it is never a task parameter, result or log line.
    """
    from prefect.blocks.system import Secret

    try:
        return str(Secret.load(block_name).get())
    except ValueError:  # no block of that name
        return None


@task(
    cache_policy=cached(stages, config, ingest, readers, sections, validation, phi, synthetic, io), persist_result=True
)
def ingest_reports(data: DataConfig) -> Path:
    """Read the reports, quarantine the unusable rows with their reasons, count PHI patterns."""
    return stages.ingest_stage(data)


@task(cache_policy=cached(stages, segment, io), persist_result=True)
def segment_reports(ingest_dir: Path, model_modalities: list[str]) -> dict[str, Path]:
    """One dataset per modality."""
    return stages.segment_stage(ingest_dir, model_modalities)


@task(cache_policy=cached(stages, eda, segment, phi, markdown, io), persist_result=True)
def explore(segments: dict[str, Path], ingest_dir: Path, show_text: bool = True) -> Path:
    """Per modality: section lengths, outliers, common impressions, quarantine and PHI counts (HTML, plots)."""
    return stages.eda_stage(segments, ingest_dir, show_text)


@task(cache_policy=cached(stages, split, io), persist_result=True)
def split_dataset(dataset: Path, cfg: SplitConfig) -> dict[str, Path]:
    """Deterministic train / validation / test split of one modality's dataset."""
    return stages.split_stage(dataset, cfg)
