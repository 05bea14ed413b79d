"""Compare: the study's tables for the top variants and the baselines, with the judge's trust numbers."""

from __future__ import annotations

from pathlib import Path

from radimpress.config.variants import VariantSpec
from radimpress.evaluation.baselines import BaselineSpec
from radimpress.evaluation.compare import VariantOutcome, write_comparison
from radimpress.files import RUN_FACTS, read_json
from radimpress.stages.store import stage


def compare_stage(top: list[dict[str, Path]], variants: list[VariantSpec | BaselineSpec], judge_dir: Path) -> Path:
    """The comparison of `top` (in rank order). Training and generation times are facts of the runs that made
    the folders, outside their content keys, so they enter this stage's key explicitly."""
    facts = [_run_facts(paths) for paths in top]
    return comparison_stage(top, variants, judge_dir, facts)


@stage("compare")
def comparison_stage(
    top: list[dict[str, Path]],
    variants: list[VariantSpec | BaselineSpec],
    judge_dir: Path,
    facts: list[dict[str, dict]],
    *,
    out: Path,
) -> Path:
    outcomes = [_outcome(paths, variant, fact) for paths, variant, fact in zip(top, variants, facts, strict=True)]
    judge = read_json(judge_dir / "judge.json")
    source = read_json(judge_dir / "judge_base.json")["review_source"]
    label = "judge, trained on SIMULATED reviews" if source == "simulated" else "judge, trained on reviewers' scores"
    note = (
        f"Factual correctness (0-10) is the judge's mean score on the test split. Judge trained on {judge['n_train']} "
        f"{source} reviews; on {judge['n_holdout']} held-out reviews its mean absolute error is "
        f"{judge['holdout_mae']:.2f} (always predicting the mean: {judge['baseline_mae']:.2f}). "
        + trust_verdict(judge["holdout_mae"], judge["baseline_mae"])
    )
    return write_comparison(outcomes, label, note, out)


def trust_verdict(judge_mae: float, baseline_mae: float) -> str:
    """Plain words on whether the judge's scores mean anything."""
    if judge_mae < baseline_mae:
        return f"The judge beats that baseline by {baseline_mae - judge_mae:.2f} points."
    return "The judge does NOT beat that baseline: do not rank models by its scores; review more samples."


def _run_facts(paths: dict[str, Path]) -> dict[str, dict]:
    return {
        "train": read_json(paths["finetune_dir"] / RUN_FACTS),
        "generation": read_json(paths["generation_dir"] / RUN_FACTS),
    }


def _outcome(paths: dict[str, Path], variant: VariantSpec | BaselineSpec, facts: dict[str, dict]) -> VariantOutcome:
    train, generation = facts["train"], facts["generation"]
    return VariantOutcome(
        variant_id=variant.variant_id,
        model=variant.model,
        input_config=variant.input_config,
        train_seconds=train["train_seconds"],
        peak_memory_gib=max(train.get("peak_memory_gib", 0.0), generation.get("peak_memory_gib", 0.0)),
        generation_seconds=generation["seconds"],
        tokens_per_second=generation["tokens_per_second"],
        scores=read_json(paths["scores_path"])["values"],
        factual_correctness=read_json(paths["judged_dir"] / "judged.json")["factual_correctness"],
    )
