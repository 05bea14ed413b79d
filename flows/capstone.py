"""The capstone method as one DAG: ingest -> segment -> EDA -> split -> fine-tune -> generate -> score
-> select top models -> review -> judge-train -> judge-score -> compare, every run tracked in MLflow.

Run it: `prefect deployment run capstone/full` (see deployments/), or `python -m flows.capstone smoke`.
"""

from __future__ import annotations

import sys

from prefect import flow, suspend_flow_run, unmapped
from prefect.futures import PrefectFuture, wait
from prefect.input import RunInput
from pydantic import Field

from radimpress.config.variants import expand_variants
from radimpress.evaluation.baselines import BASELINES, BaselineSpec
from tasks.data import explore, ingest_reports, load_config, segment_reports, split_dataset
from tasks.evaluation import (
    compare_top,
    fit_judge,
    judge_variant,
    learn_perturbations,
    publish_review,
    review_sample,
    run_baseline,
    score,
    select_top,
    train_judge,
)
from tasks.modeling import finetune, generate_impressions, prepare_base
from tasks.tracking import (
    finish_tracking,
    log_splits,
    log_variant,
    mark_parent_failed,
    publish_eda,
    start_tracking,
    tag_top_variants,
)


@flow(name="capstone", log_prints=True, on_failure=[mark_parent_failed])
def capstone(profile: str = "smoke") -> str:
    """Fine-tune, score, judge and compare impression generators on the reports the profile names."""
    cfg = load_config(profile)
    parent_run = start_tracking(cfg)

    reports = ingest_reports(cfg.data)
    segments = segment_reports(reports, cfg.data.model_modalities)
    splits = {m: split_dataset(segments[m], cfg.split) for m in cfg.data.model_modalities}
    log_splits(parent_run, splits)
    overlaps = {m: splits[m]["overlap"] for m in cfg.data.model_modalities}
    publish_eda(parent_run, explore(segments, reports, cfg.tracking.report_text != "none", overlaps))

    # Every variant is fine-tuned, then generated and scored on the validation split: the choices are made there.
    variants = expand_variants(cfg)
    bases = {
        (m, model): prepare_base.submit(model, splits[m]["train"], cfg.tiny_base, cfg.model_paths, cfg.hub)
        for m in cfg.data.model_modalities
        for model in cfg.models
    }
    variant_bases = [bases[v.modality, v.model] for v in variants]
    # The judge's first lesson needs only the training split: it learns beside the fine-tunes, not after them.
    judge_modality = variants[0].modality  # the judge starts from its model's base for the first modality
    judge_base = bases.get((judge_modality, cfg.judge.model))
    if judge_base is None:
        judge_base = prepare_base.submit(
            cfg.judge.model, splits[judge_modality]["train"], cfg.tiny_base, cfg.model_paths, cfg.hub
        )
    train_paths = [splits[modality]["train"] for modality in sorted({v.modality for v in variants})]
    perturbed = learn_perturbations.submit(train_paths, cfg.judge, judge_base, cfg.review.rubric)
    failures = [cfg.faults.finetune_failures.get(v.model, 0) for v in variants]
    train, validation = ([splits[v.modality][name] for v in variants] for name in ("train", "validation"))
    adapters = finetune.map(variants, variant_bases, train, validation, failures)
    val_generations = generate_impressions.map(variants, variant_bases, adapters, validation, unmapped(cfg.generate))
    val_scores = score.map(val_generations, unmapped(cfg.score))
    variant_runs = log_variant.map(
        unmapped(parent_run), variants, adapters, val_generations, val_scores, unmapped(cfg.tracking.report_text)
    )
    _raise_first_failure(adapters, val_generations, val_scores, variant_runs)
    top = select_top(variants, val_scores, cfg.select)

    # The test split reports: the chosen variants and the baselines only.
    chosen = [variants[i] for i in top]
    test = [splits[v.modality]["test"] for v in chosen]
    generations = generate_impressions.map(
        chosen, [variant_bases[i] for i in top], [adapters[i] for i in top], test, unmapped(cfg.generate)
    )
    scores = score.map(generations, unmapped(cfg.score))
    baselines = [BaselineSpec(name, m) for m in cfg.data.model_modalities for name in BASELINES]
    baseline_outputs = run_baseline.map(
        baselines, [splits[b.modality]["train"] for b in baselines], [splits[b.modality]["test"] for b in baselines]
    )
    baseline_scores = score.map(baseline_outputs, unmapped(cfg.score))
    _raise_first_failure(generations, scores, baseline_scores)

    if cfg.review.source == "app":
        wait([perturbed])  # learnt before the flow run suspends, not cut off by it
        wait_for_reviews(publish_review(generations, cfg.review), cfg.review.wait_hours)
    reviewed = review_sample(generations, cfg.review)
    # The final judge and one per fold, side by side on the GPU slots; then how far to trust it, from the folds.
    judges = [None, *range(cfg.judge.folds)]
    fitted = fit_judge.map(
        unmapped(reviewed),
        unmapped(perturbed),
        unmapped(cfg.judge),
        unmapped(judge_base),
        unmapped(cfg.review.rubric),
        judges,
    )
    _raise_first_failure([perturbed], fitted)
    judge_dir = train_judge(
        reviewed, perturbed, fitted[0], fitted[1:], cfg.judge, judge_base, cfg.score, cfg.review.rubric
    )
    judged = judge_variant.map(unmapped(judge_dir), generations)
    judged_baselines = judge_variant.map(unmapped(judge_dir), baseline_outputs)
    rows = [
        {"finetune_dir": adapters[i], "generation_dir": g, "scores_path": s, "judged_dir": j}
        for i, g, s, j in zip(top, generations, scores, judged, strict=True)
    ] + [
        {"finetune_dir": out, "generation_dir": out, "scores_path": scored, "judged_dir": j}
        for out, scored, j in zip(baseline_outputs, baseline_scores, judged_baselines, strict=True)
    ]
    comparison = compare_top(rows, chosen + baselines, judge_dir, cfg.select.metric, overlaps)
    tag_top_variants(
        variant_runs, top, generations, scores, judged, comparison, cfg.review.source, cfg.tracking.report_text
    )
    finish_tracking(parent_run, judge_dir, comparison, [variant_runs[i] for i in top], cfg.tracking.report_text)
    return str(comparison)


class ReviewsDone(RunInput):
    """What resumes a flow run waiting for its reviewers (`radimpress review resume`, or the Prefect UI)."""

    done: bool = Field(True, description="The reviewers have finished; a resume with answers missing waits again.")


def wait_for_reviews(pending: dict, hours: float) -> None:
    """Suspend the flow run until the reviews are in; it re-runs from the top on resume, stages from cache."""
    if not pending["missing"]:
        return
    description = (
        f"Waiting for reviewers: {pending['missing']} of {pending['assigned']} answers are missing. "
        "`radimpress review links` prints each reviewer's link, `radimpress review serve` serves the page; "
        "then `radimpress review resume` (or Resume here)."
    )
    suspend_flow_run(
        wait_for_input=ReviewsDone.with_initial_data(description=description),
        key=f"review-{pending['wait']}",  # a new key each time: a reused one would hand back the last resume
        timeout=round(hours * 3600),
    )


def _raise_first_failure(*stages: list[PrefectFuture]) -> None:
    """Let every running variant finish, then fail the flow run with the first failed stage's own error
    (not a downstream 'upstream not ready'), so a retry from the UI has the most in cache."""
    for futures in stages:
        wait(futures)
    for futures in stages:
        for future in futures:
            if future.state.is_failed():
                future.result()  # re-raises the task's exception


if __name__ == "__main__":
    capstone(sys.argv[1] if len(sys.argv) > 1 else "smoke")
