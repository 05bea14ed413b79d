"""GPU tasks: build or locate bases, fine-tune, generate. Tagged `gpu` so a tag concurrency limit shares the GPUs."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from radimpress import bases, generate, io, models, prompts, stages, synthetic, train, vllm_backend
from radimpress.config import GenerateConfig, HubConfig, TinyBaseConfig
from radimpress.variants import VariantSpec
from tasks.caching import cached
from tasks.progress import progress_reporter


# Pretraining is GPU work too; queueing it with the fine-tunes also keeps torch's global RNG to one trainer at a time.
@task(
    tags=["gpu"],
    retries=1,
    retry_delay_seconds=5,
    cache_policy=cached(stages, bases, models, synthetic, train, io),
    persist_result=True,
    task_run_name="base-{model}",
)
def prepare_base(model: str, train_path: Path, cfg: TinyBaseConfig, model_paths: dict[str, str], hub: HubConfig) -> str:
    """A base to fine-tune: a tiny model pretrained offline, or where the pretrained weights are."""
    report = progress_reporter(f"pretrain {model}") if models.is_tiny(model) else None
    return stages.base_stage(model, train_path, cfg, model_paths, hub, report)


@task(
    tags=["gpu"],
    retries=1,
    retry_delay_seconds=5,
    cache_policy=cached(stages, train, bases, prompts, io, exclude=("failures",)),
    persist_result=True,
    task_run_name="finetune-{variant.variant_id}",
)
def finetune(variant: VariantSpec, base: str, train_path: Path, failures: int = 0) -> Path:
    """Fine-tune one model variant with LoRA; return its folder (adapter/, train.json)."""
    report = progress_reporter(f"fine-tune {variant.variant_id}")
    return stages.finetune_stage(variant, base, train_path, failures, report)


@task(
    tags=["gpu"],
    retries=1,
    retry_delay_seconds=5,
    cache_policy=cached(stages, generate, vllm_backend, bases, prompts, io),
    persist_result=True,
    task_run_name="generate-{variant.variant_id}",
)
def generate_impressions(
    variant: VariantSpec, base: str, finetune_dir: Path, test_path: Path, cfg: GenerateConfig
) -> Path:
    """Generate the test split's impressions with one variant."""
    report = progress_reporter(f"generate {variant.variant_id}")
    return stages.generate_stage(variant, base, finetune_dir, test_path, cfg, report)
