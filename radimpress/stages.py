"""The capstone method, one function per stage: files in, files out.

Each stage writes into a folder named by the digest of its inputs (`io.stage_dir`), so re-running a
stage on the same inputs rewrites the same files and different inputs never overwrite each other.
The Prefect tasks in `tasks/` are thin wrappers over these functions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from radimpress import eda, models, phi
from radimpress.baselines import BaselineSpec
from radimpress.config import (
    DataConfig,
    GenerateConfig,
    HubConfig,
    JudgeConfig,
    ReviewConfig,
    ScoreConfig,
    SplitConfig,
    TinyBaseConfig,
)
from radimpress.errors import InjectedFailure, InputDataError
from radimpress.ingest import IngestResult, ingest
from radimpress.io import read_frame, read_json, stage_dir, write_frame, write_json
from radimpress.prompts import build_prompts, build_target
from radimpress.resources import PeakMemory
from radimpress.segment import segment_by_modality, with_modality
from radimpress.split import split_reports
from radimpress.variants import VariantSpec

Progress = Callable[[float], None] | None
PHI_COLUMNS = ("exam", "clinical_information", "findings", "impression")


def ingest_stage(cfg: DataConfig) -> Path:
    """reports.parquet (usable rows), quarantine.parquet (the rest, with reasons), phi.parquet (PHI pattern
    counts per column over every row read), counts.json (rows in = kept + quarantined, per reason)."""
    out = stage_dir("ingest", cfg)
    result = ingest(cfg, work_dir=out / "transcoded")
    write_frame(result.reports, out / "reports.parquet")
    write_frame(result.quarantine, out / "quarantine.parquet")
    every_row = pl.concat([result.reports, result.quarantine], how="diagonal_relaxed")
    write_frame(phi.phi_counts(every_row, PHI_COLUMNS), out / "phi.parquet")
    write_json(ingest_counts(result), out / "counts.json")
    return out


def ingest_counts(result: IngestResult) -> dict[str, object]:
    by_reason = dict(result.quarantine.group_by("reason").len().sort("reason").iter_rows())
    counts = {"rows_in": result.rows_in, "kept": result.reports.height, "quarantined": result.quarantine.height}
    return counts | {"quarantined_by_reason": by_reason} | result.notes


def segment_stage(ingest_dir: Path, model_modalities: list[str]) -> dict[str, Path]:
    """One parquet file per modality.

    Raises:
        InputDataError: a modality the profile models has no report.
    """
    out = stage_dir("segment", ingest_dir)
    segments = segment_by_modality(read_frame(ingest_dir / "reports.parquet"))
    missing = [m for m in model_modalities if m not in segments]
    if missing:
        raise InputDataError(
            f"no '{missing[0]}' reports to model (data.model_modalities); modalities found: {', '.join(segments)}"
        )
    return {modality: write_frame(frame, out / f"{modality}.parquet") for modality, frame in segments.items()}


def eda_stage(segments: dict[str, Path], ingest_dir: Path, show_text: bool = True) -> Path:
    """Per modality: section lengths, outliers, common impressions, quarantine and PHI counts, as an HTML
    report, a Markdown summary, CSV tables, plots and summary.json."""
    out = stage_dir("eda", segments, ingest_dir, show_text)
    reports = pl.concat([read_frame(path) for path in segments.values()])
    quarantine = with_modality(read_frame(ingest_dir / "quarantine.parquet"))
    return eda.run_eda(reports, quarantine, read_frame(ingest_dir / "phi.parquet"), out, show_text)


def split_stage(dataset: Path, cfg: SplitConfig) -> dict[str, Path]:
    """train.parquet, validation.parquet and test.parquet: later stages take only the file they read."""
    out = stage_dir("split", dataset, cfg)
    splits = split_reports(read_frame(dataset), cfg)
    counts = {name: frame.height for name, frame in splits.items()}
    if not counts["train"] or not counts["test"]:
        raise InputDataError(f"{dataset.stem}: too few reports to split (train/validation/test = {counts})")
    return {name: write_frame(frame, out / f"{name}.parquet") for name, frame in splits.items()}


def base_stage(
    model: str,
    train_path: Path,
    cfg: TinyBaseConfig,
    model_paths: dict[str, str],
    hub: HubConfig | None = None,
    on_progress: Progress = None,
) -> str:
    """A base ready to fine-tune: a tiny one pretrained offline, or where the pretrained weights are."""
    if not models.is_tiny(model):
        return models.resolve_pretrained(model, model_paths, hub)
    from radimpress.bases import build_tiny_base, pretraining_corpus

    out = stage_dir("base", model, train_path, cfg)
    return str(build_tiny_base(model, pretraining_corpus(read_frame(train_path), cfg), cfg, out, on_progress))


def fail_if_injected(out_dir: Path, failures: int) -> None:
    """Fail the first `failures` attempts at this output folder (testing retries from the Prefect UI)."""
    if failures <= 0:
        return
    counter = out_dir / "injected_attempts.txt"
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    if attempt <= failures:
        raise InjectedFailure(f"injected failure {attempt} of {failures} in {out_dir.name} (profile faults)")


def finetune_stage(
    variant: VariantSpec, base: str, train_path: Path, failures: int = 0, on_progress: Progress = None
) -> Path:
    """adapter/ (PEFT format, with its tokenizer) and train.json (time, loss curve)."""
    from radimpress.bases import load_tokenizer
    from radimpress.train import finetune

    out = stage_dir("finetune", variant, base, train_path)
    fail_if_injected(out, failures)
    train = read_frame(train_path)
    prompts = build_prompts(train, variant.input_config, load_tokenizer(base))
    targets = [build_target(text) for text in train["impression"]]
    finetune(base, prompts, targets, variant.lora, variant.train, out, on_progress)
    write_json({"base": base, "base_revision": _base_revision(base), **variant.params()}, out / "variant.json")
    return out


def generate_stage(
    variant: VariantSpec,
    base: str,
    finetune_dir: Path,
    test_path: Path,
    cfg: GenerateConfig,
    on_progress: Progress = None,
) -> Path:
    """generations.parquet (the test split with `generated`) and generation.json (time, tokens/s)."""
    from radimpress.generate import generate_texts, load_finetuned

    out = stage_dir("generate", variant, base, finetune_dir, test_path, cfg)
    test = read_frame(test_path)
    with PeakMemory() as peak:
        if cfg.backend == "vllm":
            from radimpress.generate import finetuned_tokenizer
            from radimpress.vllm_backend import generate_texts_with_vllm

            tokenizer = finetuned_tokenizer(base, finetune_dir / "adapter")
            prompts = build_prompts(test, variant.input_config, tokenizer)
            result = generate_texts_with_vllm(base, finetune_dir / "adapter", tokenizer, prompts, cfg)
        else:
            model, tokenizer = load_finetuned(base, finetune_dir / "adapter")
            prompts = build_prompts(test, variant.input_config, tokenizer)
            result = generate_texts(model, tokenizer, prompts, cfg, on_progress)
    generations = test.with_columns(
        pl.lit(variant.variant_id).alias("variant_id"),
        pl.col("impression").alias("reference"),
        pl.Series("generated", result.texts, dtype=pl.String),
    )
    write_frame(generations, out / "generations.parquet")
    timing = {
        "seconds": result.seconds,
        "new_tokens": result.new_tokens,
        "tokens_per_second": result.tokens_per_second,
        "peak_memory_gib": round(peak.gib, 3),
        "memory_scope": peak.scope,
    }
    write_json(timing | {"reports": test.height}, out / "generation.json")
    return out


def baseline_stage(baseline: BaselineSpec, train_path: Path, test_path: Path) -> Path:
    """The same files as a fine-tuned variant's (generations.parquet, generation.json, train.json), from a baseline."""
    import time

    from radimpress.baselines import predict_baseline

    out = stage_dir("baseline", baseline, train_path, test_path)
    test = read_frame(test_path)
    started = time.perf_counter()
    predicted = predict_baseline(baseline.name, read_frame(train_path), test)
    seconds = time.perf_counter() - started
    generations = test.with_columns(
        pl.lit(baseline.variant_id).alias("variant_id"),
        pl.col("impression").alias("reference"),
        pl.Series("generated", predicted, dtype=pl.String),
    )
    write_frame(generations, out / "generations.parquet")
    write_json(
        {"seconds": seconds, "new_tokens": 0, "tokens_per_second": 0.0, "reports": test.height}, out / "generation.json"
    )
    write_json({"train_seconds": 0.0, "losses": [], "n_examples": 0}, out / "train.json")
    return out


def score_stage(generation_dir: Path, cfg: ScoreConfig) -> Path:
    """scores.json: every metric, with the encoder behind each embedding-based one."""
    from radimpress.metrics import score_impressions

    out = stage_dir("score", generation_dir, cfg)
    generations = read_frame(generation_dir / "generations.parquet")
    scores = score_impressions(generations["generated"].to_list(), generations["reference"].to_list(), cfg)
    encoders = {key: vars(record) for key, record in scores.encoders.items()}
    return write_json({"values": scores.values, "encoders": encoders}, out / "scores.json")


def review_stage(generation_dirs: list[Path], cfg: ReviewConfig) -> Path:
    """reviewed.parquet: a sample of the top variants' impressions with factual-correctness scores."""
    from radimpress.judge import reviewer_scores, sample_for_review, simulated_review

    out = stage_dir("review", generation_dirs, cfg)
    generations = pl.concat([read_frame(d / "generations.parquet") for d in generation_dirs], how="diagonal")
    sample = sample_for_review(generations, cfg.n_samples, cfg.seed)
    if cfg.source == "simulated":
        reviewed = simulated_review(sample, cfg)
    else:
        reviewed = reviewer_scores(sample, cfg, out / "review_sheet.csv")
    write_frame(reviewed, out / "reviewed.parquet")
    return out


def judge_train_stage(review_dir: Path, cfg: JudgeConfig, base: str) -> Path:
    """adapter/ and judge.json (held-out error against the reviewers) of the judge fine-tuned on `base`."""
    from radimpress.judge import train_judge

    out = stage_dir("judge-train", review_dir, cfg, base)
    reviewed = read_frame(review_dir / "reviewed.parquet")
    train_judge(base, reviewed, cfg, out)
    write_json({"base": base, "review_source": reviewed["review_source"][0]}, out / "judge_base.json")
    return out


def judge_score_stage(judge_dir: Path, generation_dir: Path) -> Path:
    """judged.parquet (per report) and judged.json (the mean): the judge's factual correctness of one variant."""
    from radimpress.judge import predict_scores

    out = stage_dir("judge-score", judge_dir, generation_dir)
    generations = read_frame(generation_dir / "generations.parquet")
    base = read_json(judge_dir / "judge_base.json")["base"]
    scores = predict_scores(
        base, judge_dir / "adapter", generations["reference"].to_list(), generations["generated"].to_list()
    )
    judged = generations.select("variant_id", "report_id").with_columns(pl.Series("factual_correctness", scores))
    write_frame(judged, out / "judged.parquet")
    write_json({"factual_correctness": sum(scores) / len(scores), "reports": len(scores)}, out / "judged.json")
    return out


def _base_revision(base: str) -> str:
    """Tiny bases live in folders named by their content digest; pretrained ones by their Hub snapshot."""
    return Path(base).name if Path(base).is_dir() else base


def compare_stage(top: list[dict[str, Path]], variants: list[VariantSpec | BaselineSpec], judge_dir: Path) -> Path:
    """The study's tables for the top variants (in rank order) and the baselines, with the judge's trust numbers."""
    from radimpress.compare import write_comparison

    out = stage_dir("compare", top, variants, judge_dir)
    outcomes = [_outcome(paths, variant) for paths, variant in zip(top, variants, strict=True)]
    judge = read_json(judge_dir / "judge.json")
    source = read_json(judge_dir / "judge_base.json")["review_source"]
    label = "judge, trained on SIMULATED reviews" if source == "simulated" else "judge, trained on reviewers' scores"
    note = (
        f"Factual correctness (0-10) is the judge's mean score on the test split. Judge trained on {judge['n_train']} "
        f"{source} reviews; on {judge['n_holdout']} held-out reviews its mean absolute error is "
        f"{judge['holdout_mae']:.2f} (always predicting the mean: {judge['baseline_mae']:.2f}). "
        + _trust_verdict(judge["holdout_mae"], judge["baseline_mae"])
    )
    return write_comparison(outcomes, label, note, out)


def _trust_verdict(judge_mae: float, baseline_mae: float) -> str:
    """Plain words on whether the judge's scores mean anything."""
    if judge_mae < baseline_mae:
        return f"The judge beats that baseline by {baseline_mae - judge_mae:.2f} points."
    return "The judge does NOT beat that baseline: do not rank models by its scores; review more samples."


def _outcome(paths: dict[str, Path], variant: VariantSpec | BaselineSpec):
    from radimpress.compare import VariantOutcome

    generation = read_json(paths["generation_dir"] / "generation.json")
    train = read_json(paths["finetune_dir"] / "train.json")
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
