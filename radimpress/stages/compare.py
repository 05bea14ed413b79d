"""Compare: the study's tables for the top variants and the baselines, every number with its 95% interval, the
paired tests against the best model and the baselines, the split's remaining overlap and the judge's trust."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from radimpress.config.variants import VariantSpec
from radimpress.evaluation.baselines import BaselineSpec
from radimpress.evaluation.compare import (
    PerReport,
    VariantOutcome,
    intervals,
    not_worse_than_best,
    significance_table,
    write_comparison,
)
from radimpress.evaluation.trust import agreement_markdown_rows
from radimpress.files import RUN_FACTS, read_frame, read_json
from radimpress.markdown import markdown_table
from radimpress.stages.judge import TRUST_FILE
from radimpress.stages.store import stage


def compare_stage(
    top: list[dict[str, Path]],
    variants: list[VariantSpec | BaselineSpec],
    judge_dir: Path,
    metric: str,
    overlaps: dict[str, Path],
) -> Path:
    """The comparison of `top` (in rank order, then the baselines). Training and generation times are facts of the
    runs that made the folders, outside their content keys, so they enter this stage's key explicitly."""
    facts = [_run_facts(paths) for paths in top]
    return comparison_stage(top, variants, judge_dir, metric, overlaps, facts)


def _compare_key(
    top: list[dict[str, Path]],
    variants: list[VariantSpec | BaselineSpec],
    judge_dir: Path,
    metric: str,
    overlaps: dict[str, Path],
) -> str:
    facts = [_run_facts(paths) for paths in top]
    return comparison_stage.key(top, variants, judge_dir, metric, overlaps, facts)


# The Prefect task caches under the same key, run facts included: a re-timed fine-tune re-makes the tables.
compare_stage.key = _compare_key  # type: ignore[attr-defined]


@stage("compare")
def comparison_stage(
    top: list[dict[str, Path]],
    variants: list[VariantSpec | BaselineSpec],
    judge_dir: Path,
    metric: str,
    overlaps: dict[str, Path],
    facts: list[dict[str, dict]],
    *,
    out: Path,
) -> Path:
    per_reports = [_per_report(paths) for paths in top]
    outcomes = [
        _outcome(paths, variant, fact, per_report)
        for paths, variant, fact, per_report in zip(top, variants, facts, per_reports, strict=True)
    ]
    names = [variant.variant_id for variant in variants]
    baselines = [i for i, variant in enumerate(variants) if isinstance(variant, BaselineSpec)]
    significance = significance_table(names, per_reports, metric, baselines)
    marks = ["yes" if fine else "no" for fine in not_worse_than_best(significance, names, baselines)]
    notes = [_selection_note(metric), _leakage_note(overlaps), _judge_note(judge_dir), *_reviewer_notes(judge_dir, out)]
    source = read_json(judge_dir / "judge_base.json")["review_source"]
    label = "judge, trained on SIMULATED reviews" if source == "simulated" else "judge, trained on reviewers' scores"
    return write_comparison(outcomes, label, notes, out, significance, marks + [""] * len(baselines), metric)


def _selection_note(metric: str) -> str:
    return (
        f"The top models were ranked by validation {metric}; the test split only reports. 'Not worse than best': "
        f"no paired test (approximate randomisation over test reports, Holm-corrected) finds the model's {metric} "
        "below the best model's at the 5% level; such models are not told apart by this test set."
    )


def _leakage_note(overlaps: dict[str, Path]) -> str:
    parts = []
    for modality, path in overlaps.items():
        test = read_json(path).get("test", {})
        if test:
            parts.append(
                f"{modality}: {test['pairs_in_train']} of {test['reports']} test (findings, impression) pairs occur in "
                f"train; {test['impressions_in_train_share']:.0%} of test impressions occur verbatim in train "
                "(templated normal reports make that legitimate, and ROUGE / BLEU reward it)"
            )
    return "Leakage: " + "; ".join(parts) + "." if parts else ""


def _judge_note(judge_dir: Path) -> str:
    """The judge's out-of-fold agreement with the reviewers beside the metrics' and the mean's, and plain words."""
    judge = read_json(judge_dir / "judge.json")
    source = read_json(judge_dir / "judge_base.json")["review_source"]
    trust = agreement_markdown_rows(pl.read_csv(judge_dir / TRUST_FILE))
    return (
        f"Factual correctness (0-10) is the judge's mean score on the test split. How far to trust it: on "
        f"{judge['n_items']} {source} reviews of {judge['n_reports']} reports, {judge['folds']}-fold "
        "cross-validation grouped by report gave every item a score from a judge that never saw its report. "
        "Below, that agreement with the reviewers beside the automatic metrics' (mapped to 0-10 by a line fitted "
        "on the other folds, for MAE and kappa) and always predicting the mean, 95% bootstrap intervals over "
        "reports; `mae_minus_mean` below 0 beats the mean.\n\n"
        + markdown_table(trust)
        + "\n\n"
        + " ".join(judge["verdict"])
    )


def _reviewer_notes(judge_dir: Path, out: Path) -> list[str]:
    """The reviewers' own scores per variant and their agreement, when humans reviewed (copied beside the tables)."""
    recorded = read_json(judge_dir / "judge_base.json").get("review_dir")
    if recorded is None:
        return []
    titles = {
        "human_scores.csv": "Reviewers' own scores (review sample, 95% bootstrap intervals over items)",
        "agreement.csv": "Agreement between reviewers (95% bootstrap intervals over items)",
        "pairwise.csv": "Pairwise: the top two side by side (reviewers' preference, overall and by reference length)",
    }
    notes = []
    for name, title in titles.items():
        if (Path(recorded) / name).is_file():
            table = pl.read_csv(Path(recorded) / name)
            table.write_csv(out / name)
            notes.append(f"## {title}\n\n{markdown_table(table)}")
    return notes


def _run_facts(paths: dict[str, Path]) -> dict[str, dict]:
    return {
        "train": read_json(paths["finetune_dir"] / RUN_FACTS),
        "generation": read_json(paths["generation_dir"] / RUN_FACTS),
    }


def _per_report(paths: dict[str, Path]) -> PerReport:
    return PerReport(
        scores=read_frame(paths["scores_path"].parent / "per_report.parquet"),
        judged=read_frame(paths["judged_dir"] / "judged.parquet").select("report_id", "factual_correctness"),
    )


def _outcome(
    paths: dict[str, Path], variant: VariantSpec | BaselineSpec, facts: dict[str, dict], per_report: PerReport
) -> VariantOutcome:
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
        intervals=intervals(per_report),
    )
