"""GPU tasks: build or locate bases, fine-tune, generate. Tagged `gpu` so a tag concurrency limit shares the GPUs."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from radimpress.config import GenerateConfig, HubConfig, TinyBaseConfig
from radimpress.config.catalog import MODEL_REGISTRY
from radimpress.config.variants import VariantSpec
from radimpress.stages.base import base_stage, tiny_base_stage
from radimpress.stages.finetune import finetune_stage
from radimpress.stages.generate import generate_stage
from tasks.caching import stage_cache
from tasks.gpu import on_gpu
from tasks.progress import progress_reporter


# Pretraining is GPU work too; queueing it with the fine-tunes also keeps torch's global RNG to one trainer at a time.
# Not cached by Prefect: a pretrained model is only located, and a tiny base's own stage folder is its cache.
# The `gpu` tag is for the UI; the slot itself is taken inside, only for work (tasks/gpu.py).
@task(tags=["gpu"], retries=1, retry_delay_seconds=5, cache_policy=NO_CACHE, task_run_name="base-{model}")
def prepare_base(
    model: str, train_path: Path, cfg: TinyBaseConfig, model_paths: dict[str, str], hub: HubConfig
) -> Path:
    """A base to fine-tune: a tiny model pretrained offline, or where the pretrained weights are."""
    if not MODEL_REGISTRY[model].tiny or tiny_base_stage.finished(model, train_path, cfg):
        return base_stage(model, train_path, cfg, model_paths, hub)
    report = progress_reporter(f"pretrain {model}")
    return on_gpu(base_stage, model, train_path, cfg, model_paths, hub, on_progress=report)


@task(
    tags=["gpu"],
    retries=1,
    retry_delay_seconds=5,
    cache_policy=stage_cache(finetune_stage),
    persist_result=True,
    task_run_name="finetune-{variant.variant_id}",
)
def finetune(variant: VariantSpec, base: Path, train_path: Path, validation_path: Path, failures: int = 0) -> Path:
    """Fine-tune one model variant, its validation loss measured as it trains; return its folder (adapter/,
    variant.json, run.json)."""
    report = progress_reporter(f"fine-tune {variant.variant_id}")
    return on_gpu(finetune_stage, variant, base, train_path, validation_path, failures, on_progress=report)


@task(
    tags=["gpu"],
    retries=1,
    retry_delay_seconds=5,
    cache_policy=stage_cache(generate_stage),
    persist_result=True,
    task_run_name="generate-{variant.variant_id}-{split_path.stem}",
)
def generate_impressions(
    variant: VariantSpec, base: Path, finetune_dir: Path, split_path: Path, cfg: GenerateConfig
) -> Path:
    """Generate one split's impressions with one variant."""
    report = progress_reporter(f"generate {variant.variant_id} ({split_path.stem})")
    return on_gpu(generate_stage, variant, base, finetune_dir, split_path, cfg, on_progress=report)
