"""Data tasks: ingest, segment, EDA, split."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from radimpress.config import DataConfig, Profile, SplitConfig, load_profile
from radimpress.modeling import registry
from radimpress.stages.eda import eda_stage
from radimpress.stages.ingest import ingest_stage
from radimpress.stages.segment import segment_stage
from radimpress.stages.split import split_stage
from tasks.caching import stage_cache


@task(cache_policy=NO_CACHE)
def load_config(profile: str) -> Profile:
    """Load and validate the profile; check every pretrained model is on this machine before any work."""
    loaded = load_profile(profile)
    token = registry.hub_token(hub_token_from_secret(loaded.hub.token_secret) if loaded.hub.download else None)
    registry.preflight(loaded, token)
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


@task(cache_policy=stage_cache(ingest_stage), persist_result=True)
def ingest_reports(cfg: DataConfig) -> Path:
    """Read the reports, quarantine the unusable rows with their reasons, count PHI patterns."""
    return ingest_stage(cfg)


@task(cache_policy=stage_cache(segment_stage), persist_result=True)
def segment_reports(ingest_dir: Path, model_modalities: list[str]) -> dict[str, Path]:
    """One dataset per modality."""
    return segment_stage(ingest_dir, model_modalities)


@task(cache_policy=stage_cache(eda_stage), persist_result=True)
def explore(
    segments: dict[str, Path], ingest_dir: Path, show_text: bool = True, overlaps: dict[str, Path] | None = None
) -> Path:
    """Per modality: section lengths, outliers, common impressions, split overlap, quarantine and PHI counts."""
    return eda_stage(segments, ingest_dir, show_text, overlaps)


@task(cache_policy=stage_cache(split_stage), persist_result=True)
def split_dataset(dataset: Path, cfg: SplitConfig) -> dict[str, Path]:
    """Deterministic train / validation / test split of one modality's dataset."""
    return split_stage(dataset, cfg)
