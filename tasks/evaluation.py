"""Scoring, selection, review, judge and comparison tasks."""

from __future__ import annotations

from pathlib import Path

from prefect import runtime, task
from prefect.cache_policies import NO_CACHE

from radimpress.config import JudgeConfig, ReviewConfig, RubricConfig, ScoreConfig, SelectConfig
from radimpress.config.variants import VariantSpec
from radimpress.evaluation.baselines import BaselineSpec
from radimpress.evaluation.compare import top_k_indices
from radimpress.files import read_json
from radimpress.stages.baseline import baseline_stage
from radimpress.stages.compare import compare_stage
from radimpress.stages.judge import judge_fit_stage, judge_perturb_stage, judge_score_stage, judge_train_stage
from radimpress.stages.review import publish_review as publish_review_set
from radimpress.stages.review import review_stage
from radimpress.stages.score import score_stage
from tasks.caching import stage_cache
from tasks.gpu import ISOLATE, on_gpu


@task(cache_policy=stage_cache(baseline_stage), persist_result=True, task_run_name="{baseline.variant_id}")
def run_baseline(baseline: BaselineSpec, train_path: Path, test_path: Path) -> Path:
    """A baseline's impressions for the test split, in the same files as a fine-tuned variant's."""
    return baseline_stage(baseline, train_path, test_path)


@task(cache_policy=stage_cache(score_stage), persist_result=True)
def score(generation_dir: Path, cfg: ScoreConfig) -> Path:
    """ROUGE, BLEU, BERTScore and embedding similarity of one variant's impressions. The encoders run on CUDA where
    there is a GPU: there, scoring takes a GPU slot like any other GPU stage; on CPU it runs beside them."""
    if ISOLATE:
        return on_gpu(score_stage, generation_dir, cfg)
    return score_stage(generation_dir, cfg)


@task(cache_policy=NO_CACHE)
def select_top(variants: list[VariantSpec], scores_paths: list[Path], cfg: SelectConfig) -> list[int]:
    """Indices of the top-k variants by the selection metric on the validation split (each model's best only,
    with `per_model`): the test split plays no part in the choice."""
    values = [read_json(path)["values"][cfg.metric] for path in scores_paths]
    groups = [variant.model for variant in variants] if cfg.per_model else None
    return top_k_indices(values, cfg.top_k, groups)


@task(cache_policy=NO_CACHE)
def publish_review(generation_dirs: list[Path], cfg: ReviewConfig) -> dict:
    """Put the review sample on the review page (idempotent) and count the answers still missing; never cached,
    so every resumed attempt of the flow run counts again."""
    return publish_review_set(generation_dirs, cfg, str(runtime.flow_run.id))


@task(cache_policy=stage_cache(review_stage), persist_result=True)
def review_sample(generation_dirs: list[Path], cfg: ReviewConfig) -> Path:
    """Factual-correctness scores on a sample of the top variants' impressions (reviewers, or simulated)."""
    return review_stage(generation_dirs, cfg)


@task(
    tags=["gpu"], retries=1, retry_delay_seconds=5, cache_policy=stage_cache(judge_perturb_stage), persist_result=True
)
def learn_perturbations(train_paths: list[Path], cfg: JudgeConfig, base: Path, rubric: RubricConfig) -> Path:
    """The judge's first lesson: rubric-labelled perturbations of the training split's references."""
    return on_gpu(judge_perturb_stage, train_paths, cfg, base, rubric)


def _fit_name() -> str:
    fold = runtime.task_run.parameters["fold"]
    return "judge-fit-all" if fold is None else f"judge-fit-fold{fold}"


@task(
    tags=["gpu"],
    retries=1,
    retry_delay_seconds=5,
    cache_policy=stage_cache(judge_fit_stage),
    persist_result=True,
    task_run_name=_fit_name,
)
def fit_judge(
    review_dir: Path, perturbed_dir: Path, cfg: JudgeConfig, base: Path, rubric: RubricConfig, fold: int | None
) -> Path:
    """One fold's judge (it judges the items it never saw) or, with fold None, the judge that scores the variants."""
    return on_gpu(judge_fit_stage, review_dir, perturbed_dir, cfg, base, rubric, fold)


@task(cache_policy=stage_cache(judge_train_stage), persist_result=True)
def train_judge(
    review_dir: Path,
    perturbed_dir: Path,
    final_dir: Path,
    fold_dirs: list[Path],
    cfg: JudgeConfig,
    base: Path,
    metrics: ScoreConfig,
    rubric: RubricConfig,
) -> Path:
    """The factual-correctness judge fine-tuned on the reviewed sample, and how far to trust it from its folds."""
    return judge_train_stage(review_dir, perturbed_dir, final_dir, fold_dirs, cfg, base, metrics, rubric)


@task(
    tags=["gpu"],
    retries=1,
    retry_delay_seconds=5,
    cache_policy=stage_cache(judge_score_stage),
    persist_result=True,
    task_run_name="judge-{generation_dir.name}",
)
def judge_variant(judge_dir: Path, generation_dir: Path) -> Path:
    """The judge's factual correctness of one variant's test-set impressions."""
    return on_gpu(judge_score_stage, judge_dir, generation_dir)


# Its key includes the run facts (times) of the folders it compares, which are outside their own keys.
@task(cache_policy=stage_cache(compare_stage), persist_result=True)
def compare_top(
    top: list[dict[str, Path]],
    variants: list[VariantSpec | BaselineSpec],
    judge_dir: Path,
    metric: str,
    overlaps: dict[str, Path],
) -> Path:
    """The study's two tables for the top variants and the baselines, with intervals and paired tests."""
    return compare_stage(top, variants, judge_dir, metric, overlaps)
