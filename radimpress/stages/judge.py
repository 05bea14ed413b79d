"""Judge: fine-tune the factual-correctness judge on the reviewed sample, measure how far to trust it, then score
variants with it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl

from radimpress.config import JudgeConfig, RubricConfig, ScoreConfig
from radimpress.evaluation.judge import (
    JUDGEMENT_COLUMNS,
    judge_generations,
    judgement_columns,
    judgement_frame,
    judgements_from_frame,
    learn_perturbations,
    out_of_fold,
    train_final_judge,
    train_fold_judge,
)
from radimpress.evaluation.metrics import score_impressions
from radimpress.evaluation.perturb import perturbation_pairs
from radimpress.evaluation.trust import (
    JUDGE_DIRECT,
    JUDGE_FROM_ERRORS,
    MEAN_PREDICTOR,
    agreement_frame,
    agreement_with_reviewers,
    calibrated_out_of_fold,
    mean_out_of_fold,
    reviewer_against_reviewer,
    trust_sentences,
)
from radimpress.files import read_frame, read_json, write_frame, write_json
from radimpress.review.rubric import RubricWeights
from radimpress.stages.store import stage

TRUST_FILE = "trust.csv"
JUDGEMENTS_FILE = "judgements.parquet"


@stage("judge-perturb")
def judge_perturb_stage(
    train_paths: list[Path], cfg: JudgeConfig, base: Path, rubric: RubricConfig, *, out: Path
) -> Path:
    """perturbations.parquet (rubric-labelled pairs from the training split) and adapter/ (the judge that learnt
    them, absent with judge.perturbations: 0), which every judge of judge-fit goes on from."""
    train = pl.concat([read_frame(path) for path in train_paths], how="diagonal_relaxed")
    pairs = perturbation_pairs(train, cfg.perturbations, cfg.train.seed, RubricWeights(**rubric.model_dump()))
    write_frame(pairs, out / "perturbations.parquet")
    if not pairs.is_empty():
        learn_perturbations(base, pairs, cfg, out)
    return out


@stage("judge-fit")
def judge_fit_stage(
    review_dir: Path,
    perturbed_dir: Path,
    cfg: JudgeConfig,
    base: Path,
    rubric: RubricConfig,
    fold: int | None,
    *,
    out: Path,
) -> Path:
    """One of the judges, each its own stage so that they train side by side: with `fold` None, adapter/ (the judge
    fine-tuned on every reviewed item, which scores the variants); with a fold, judgements.parquet (that fold's
    items, in row order, judged by a judge that never saw their reports; its weights are not kept)."""
    reviewed = read_frame(review_dir / "reviewed.parquet")
    learnt = perturbed_dir / "adapter"
    start_from = learnt if learnt.is_dir() else None
    if fold is None:
        train_final_judge(base, reviewed, cfg, out, start_from)
        return out
    weights = RubricWeights(**rubric.model_dump())
    said = train_fold_judge(base, reviewed, cfg, fold, out, start_from, weights)
    write_frame(judgement_frame(said), out / JUDGEMENTS_FILE)
    return out


@stage("judge-train")
def judge_train_stage(
    review_dir: Path,
    perturbed_dir: Path,
    final_dir: Path,
    fold_dirs: list[Path],
    cfg: JudgeConfig,
    base: Path,
    metrics: ScoreConfig,
    rubric: RubricConfig,
    *,
    out: Path,
) -> Path:
    """The judge and how far to trust it, from the judge-fit stages: adapter/ (the final judge's, copied so this
    folder is the judge on its own), out_of_fold.parquet, trust.csv (the judge, the metrics and the mean against the
    reviewers, with intervals) and judge.json (what the comparison says of it)."""
    reviewed = read_frame(review_dir / "reviewed.parquet")
    shutil.copytree(final_dir / "adapter", out / "adapter")
    by_fold = [judgements_from_frame(read_frame(folder / JUDGEMENTS_FILE)) for folder in fold_dirs]
    scored = _with_metrics(out_of_fold(reviewed, cfg, by_fold), reviewed, metrics)
    write_frame(scored, out / "out_of_fold.parquet")
    agreements = _agreements(scored, cfg.score_from, cfg.train.seed)
    answers = review_dir / "answers.parquet"  # reviewers' own answers, when people reviewed
    ceiling = reviewer_against_reviewer(read_frame(answers), cfg.train.seed) if answers.is_file() else None
    trust = agreement_frame(agreements + ([ceiling] if ceiling else []))
    trust.write_csv(out / TRUST_FILE)
    judge_row = trust.row(by_predicate=pl.col("predictor") == "judge", named=True)
    summary = {
        "n_items": reviewed.height,
        "n_reports": reviewed["report_id"].n_unique(),
        "folds": cfg.folds,
        "perturbations": read_frame(perturbed_dir / "perturbations.parquet").height,
        "human_weight": cfg.human_weight,
        "kendall_tau_b": judge_row["kendall_tau_b"],
        "mae": judge_row["mae"],
        "mae_minus_mean": judge_row["mae_minus_mean"],
        "score_from": cfg.score_from,
        "unreadable_error_lines": int((~scored["errors_readable"]).sum()),
        "verdict": trust_sentences(trust),
    }
    write_json(summary, out / "judge.json")
    record = {"base": str(base), "review_source": reviewed["review_source"][0], "review_dir": str(review_dir)}
    settings = {"score_batch_size": cfg.score_batch_size, "score_from": cfg.score_from, "rubric": rubric.model_dump()}
    write_json(record | settings, out / "judge_base.json")
    return out


def _with_metrics(out_of_fold: pl.DataFrame, reviewed: pl.DataFrame, metrics: ScoreConfig) -> pl.DataFrame:
    """The reviewed items' automatic metrics beside the judge's out-of-fold scores."""
    generated = [g or "" for g in reviewed["generated"]]
    per_item = score_impressions(generated, reviewed["reference"].to_list(), metrics).per_report
    wanted = ["rougeL_f1", "bertscore_f1", *(c for c in per_item.columns if c.startswith("similarity_"))]
    return pl.concat([out_of_fold, per_item.select(wanted)], how="horizontal")


def _agreements(scored: pl.DataFrame, score_from: str, seed: int):
    truth, folds = scored["score"].to_numpy(), scored["fold"].to_numpy()
    not_metrics = ("report_id", "score", "fold", *JUDGEMENT_COLUMNS)
    raw = {c: scored[c].to_numpy() for c in scored.columns if c not in not_metrics}
    # "judge" is the score the profile chose; the other way gets its own row, so both are on record.
    other, other_column = (
        (JUDGE_DIRECT, "judge_direct") if score_from == "errors" else (JUDGE_FROM_ERRORS, "judge_from_errors")
    )
    predictions = {"judge": scored["judge"].to_numpy(), other: scored[other_column].to_numpy()}
    predictions |= {name: calibrated_out_of_fold(values, truth, folds) for name, values in raw.items()}
    predictions[MEAN_PREDICTOR] = mean_out_of_fold(truth, folds)
    # The mean carries no ranking: its fold-to-fold wobble must not read as a rank correlation.
    ranks = raw | {MEAN_PREDICTOR: np.zeros(len(truth))}
    groups = scored["report_id"].cast(pl.String).to_list()
    return agreement_with_reviewers(truth, predictions, ranks, groups, seed)


@stage("judge-score")
def judge_score_stage(judge_dir: Path, generation_dir: Path, *, out: Path) -> Path:
    """judged.parquet (per report: factual_correctness, both ways of scoring and the error line) and judged.json (the
    mean, and how many error lines the judge wrote that could not be read): the judge's view of one variant."""
    generations = read_frame(generation_dir / "generations.parquet")
    record = read_json(judge_dir / "judge_base.json")
    weights = RubricWeights(**record["rubric"])
    said = judge_generations(record["base"], judge_dir / "adapter", generations, record["score_batch_size"], weights)
    columns = judgement_columns(said, record["score_from"])
    judged = generations.select("variant_id", "report_id").with_columns(
        columns[0].alias("factual_correctness"), *columns[1:]
    )
    write_frame(judged, out / "judged.parquet")
    mean = float(judged["factual_correctness"].mean()) if said else 0.0
    summary = {"factual_correctness": mean, "reports": len(said)}
    write_json(summary | {"unreadable_error_lines": int((~judged["errors_readable"]).sum())}, out / "judged.json")
    return out
