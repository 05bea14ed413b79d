"""The capstone method as one DAG: ingest -> segment -> EDA -> split -> fine-tune -> generate -> score
-> select top models -> review -> judge-train -> judge-score -> compare, every run tracked in MLflow.

Run it: `prefect deployment run capstone/full` (see deployments/), or `python -m flows.capstone smoke`.
"""

from __future__ import annotations

import sys

from prefect import flow, unmapped
from prefect.futures import PrefectFuture, wait

from radimpress.config.variants import expand_variants
from radimpress.evaluation.baselines import BASELINES, BaselineSpec
from tasks.data import explore, ingest_reports, load_config, segment_reports, split_dataset
from tasks.evaluation import compare_top, judge_variant, review_sample, run_baseline, score, select_top, train_judge
from tasks.modeling import finetune, generate_impressions, prepare_base
from tasks.tracking import (
    finish_tracking,
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
    publish_eda(parent_run, explore(segments, reports, cfg.tracking.report_text != "none"))
    splits = {m: split_dataset(segments[m], cfg.split) for m in cfg.data.model_modalities}

    variants = expand_variants(cfg)
    bases = {
        (m, model): prepare_base.submit(model, splits[m]["train"], cfg.tiny_base, cfg.model_paths, cfg.hub)
        for m in cfg.data.model_modalities
        for model in cfg.models
    }
    variant_bases = [bases[v.modality, v.model] for v in variants]
    failures = [cfg.faults.finetune_failures.get(v.model, 0) for v in variants]
    adapters = finetune.map(variants, variant_bases, [splits[v.modality]["train"] for v in variants], failures)
    generations = generate_impressions.map(
        variants, variant_bases, adapters, [splits[v.modality]["test"] for v in variants], unmapped(cfg.generate)
    )
    scores = score.map(generations, unmapped(cfg.score))
    variant_runs = log_variant.map(
        unmapped(parent_run), variants, adapters, generations, scores, unmapped(cfg.tracking.report_text)
    )

    baselines = [BaselineSpec(name, m) for m in cfg.data.model_modalities for name in BASELINES]
    baseline_outputs = run_baseline.map(
        baselines, [splits[b.modality]["train"] for b in baselines], [splits[b.modality]["test"] for b in baselines]
    )
    baseline_scores = score.map(baseline_outputs, unmapped(cfg.score))

    _raise_first_failure(adapters, generations, scores, variant_runs, baseline_scores)
    top = select_top(variants, scores, cfg.select)
    top_generations = [generations[i] for i in top]
    # The judge starts from its model's base for the first modality (built above when it is also fine-tuned).
    judge_base = prepare_base(
        cfg.judge.model, splits[variants[0].modality]["train"], cfg.tiny_base, cfg.model_paths, cfg.hub
    )
    judge_dir = train_judge(review_sample(top_generations, cfg.review), cfg.judge, judge_base)
    judged = judge_variant.map(unmapped(judge_dir), top_generations)
    judged_baselines = judge_variant.map(unmapped(judge_dir), baseline_outputs)
    rows = [
        {"finetune_dir": adapters[i], "generation_dir": generations[i], "scores_path": scores[i], "judged_dir": j}
        for i, j in zip(top, judged, strict=True)
    ] + [
        {"finetune_dir": out, "generation_dir": out, "scores_path": scored, "judged_dir": j}
        for out, scored, j in zip(baseline_outputs, baseline_scores, judged_baselines, strict=True)
    ]
    comparison = compare_top(rows, [variants[i] for i in top] + baselines, judge_dir)
    tag_top_variants(variant_runs, top, judged, cfg.review.source)
    finish_tracking(parent_run, judge_dir, comparison, cfg.tracking.report_text)
    return str(comparison)


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
