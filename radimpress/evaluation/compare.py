"""The study's two comparison tables for the top variants, every number with its 95% interval, and the paired
tests that say which models are not significantly worse than the best."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from radimpress.evaluation.metrics import BLEU_STATS, corpus_bleu
from radimpress.evaluation.statistics import ALPHA, holm, mean_interval, paired_p_value, statistic_interval
from radimpress.markdown import markdown_table

Interval = tuple[float, float]


@dataclass(frozen=True)
class VariantOutcome:
    """Everything the comparison needs to know about one fine-tuned variant."""

    variant_id: str
    model: str
    input_config: str
    train_seconds: float
    generation_seconds: float
    tokens_per_second: float
    scores: dict[str, float]
    peak_memory_gib: float = 0.0  # the larger of training's and generation's peak
    factual_correctness: float | None = None  # mean judge score on the test split
    intervals: dict[str, Interval] = field(default_factory=dict)  # metric -> bootstrap 95% interval over reports


@dataclass(frozen=True)
class PerReport:
    """One variant's per-report scores on the test split (and the judge's), for intervals and paired tests."""

    scores: pl.DataFrame  # report_id, one column per metric, BLEU_STATS
    judged: pl.DataFrame | None = None  # report_id, factual_correctness

    def values(self, metric: str) -> np.ndarray:
        if metric == "factual_correctness":
            return self.judged["factual_correctness"].to_numpy() if self.judged is not None else np.array([])
        return self.scores[metric].to_numpy()

    def metrics(self) -> list[str]:
        names = [c for c in self.scores.columns if c not in ("report_id", BLEU_STATS)] + ["bleu"]
        return names + (["factual_correctness"] if self.judged is not None else [])


def intervals(per_report: PerReport, seed: int = 0) -> dict[str, Interval]:
    """The bootstrap 95% interval of every metric: means over reports, corpus BLEU recomputed per resample."""
    statistics = np.array(per_report.scores[BLEU_STATS].to_list())
    found = {m: mean_interval(per_report.values(m), seed) for m in per_report.metrics() if m != "bleu"}
    return found | {"bleu": statistic_interval(len(statistics), lambda rows: corpus_bleu(statistics[rows]), seed)}


def significance_table(
    names: list[str], per_reports: list[PerReport], metric: str, baselines: list[int], seed: int = 0
) -> pl.DataFrame:
    """Each model against the best (the first, chosen on validation) and against each baseline, on the same test
    reports, by approximate randomisation on `metric`; p-values Holm-corrected over the whole table."""
    models = [i for i in range(len(names)) if i not in baselines]
    pairs = [(i, models[0]) for i in models[1:]] + [(i, b) for i in models for b in baselines]
    raw = [
        _paired(per_reports[a], per_reports[b], metric, f"{metric} of {names[a]} and {names[b]}", seed)
        for a, b in pairs
    ]
    adjusted = holm(raw)
    rows = []
    for (a, b), p in zip(pairs, adjusted, strict=True):
        difference = float(per_reports[a].values(metric).mean() - per_reports[b].values(metric).mean())
        rows.append({"Model": names[a], "Against": names[b], "Difference": difference, "p (Holm)": p})
    return pl.DataFrame(
        rows, schema={"Model": pl.String, "Against": pl.String, "Difference": pl.Float64, "p (Holm)": pl.Float64}
    )


def _paired(first: PerReport, second: PerReport, metric: str, what: str, seed: int) -> float:
    aligned = first.scores.select("report_id").join(second.scores.select("report_id"), on="report_id", how="inner")
    if aligned.height != first.scores.height or aligned.height != second.scores.height:
        return float("nan")  # different test reports (another modality): no paired test
    return paired_p_value(first.values(metric), second.values(metric), what, seed)


def not_worse_than_best(significance: pl.DataFrame, names: list[str], baselines: list[int]) -> list[bool]:
    """Per model (baselines excluded): the best itself, or not significantly worse than it at ALPHA after Holm."""
    best = names[[i for i in range(len(names)) if i not in baselines][0]]
    against_best = significance.filter(pl.col("Against") == best)
    worse = set(against_best.filter((pl.col("p (Holm)") < ALPHA) & (pl.col("Difference") < 0))["Model"])
    return [name not in worse for i, name in enumerate(names) if i not in baselines]


INPUT_LABELS = {
    "findings": "Findings",
    "findings_clinical": "Clinical + Findings",
    "instruction": "Instruction",
    "most_frequent_impression": "Most frequent impression",
    "last_findings_sentence": "Last findings sentence",
}


def top_k_indices(values: list[float], top_k: int, groups: list[str] | None = None) -> list[int]:
    """Positions of the `top_k` largest values, best first; ties keep the input order.

    With `groups` (a model name per value), only the best position of each group can be chosen.
    """
    ranked = sorted(range(len(values)), key=lambda i: -values[i])
    if groups is not None:
        best_of_group = {}
        for i in ranked:
            best_of_group.setdefault(groups[i], i)
        ranked = list(best_of_group.values())
    return ranked[:top_k]


def format_duration(seconds: float) -> str:
    """'1h 42min', '16min 27s', '3.2s': the study's way of writing times."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}min" if hours else f"{minutes}min {secs}s"


QUALITY_METRICS = {
    "factual_correctness": None,
    "bertscore_precision": "BERTScore P",
    "bertscore_recall": "BERTScore R",
    "bertscore_f1": "BERTScore F1",
}
ROUGE_NAMES = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "rougeLsum": "ROUGE-Lsum"}
PART_NAMES = {"precision": "P", "recall": "R", "f1": "F1"}


def quality_columns(outcomes: list[VariantOutcome], judge_label: str) -> dict[str, str]:
    """Metric key -> column of Table 1 (cost, factual correctness, BERTScore, similarity)."""
    columns = {k: v or f"Factual correctness ({judge_label})" for k, v in QUALITY_METRICS.items()}
    similarity = sorted(k for k in outcomes[0].scores if k.startswith("similarity_"))
    return columns | {k: f"Similarity ({k.removeprefix('similarity_')})" for k in similarity}


def overlap_columns() -> dict[str, str]:
    """Metric key -> column of Table 2 (ROUGE-1/2/L/Lsum P/R/F1 and BLEU)."""
    columns = {f"{k}_{p}": f"{name} {part}" for k, name in ROUGE_NAMES.items() for p, part in PART_NAMES.items()}
    return columns | {"bleu": "BLEU"}


def _value(outcome: VariantOutcome, metric: str) -> float | None:
    return outcome.factual_correctness if metric == "factual_correctness" else outcome.scores[metric]


def quality_table(outcomes: list[VariantOutcome], judge_label: str) -> pl.DataFrame:
    """Table 1 of the study: cost, factual correctness, BERTScore and similarity per model."""
    columns = quality_columns(outcomes, judge_label)
    return pl.DataFrame(
        [
            {
                "Model": o.model,
                "Input": INPUT_LABELS[o.input_config],
                "Variant": o.variant_id,
                "Training time": format_duration(o.train_seconds),
                "Generation time": format_duration(o.generation_seconds),
                "Tokens/s": round(o.tokens_per_second, 1),
                "Peak memory (GiB)": round(o.peak_memory_gib, 2),
                **{name: _value(o, metric) for metric, name in columns.items()},
            }
            for o in outcomes
        ]
    )


def overlap_table(outcomes: list[VariantOutcome]) -> pl.DataFrame:
    """Table 2 of the study: ROUGE-1/2/L/Lsum precision, recall, F1 and BLEU per model."""
    columns = overlap_columns()
    return pl.DataFrame(
        [{"Model": o.model, "Variant": o.variant_id, **{n: o.scores[m] for m, n in columns.items()}} for o in outcomes]
    )


def interval_table(outcomes: list[VariantOutcome]) -> pl.DataFrame:
    """Long form: variant, metric, value, and its 95% interval (intervals.csv, MLflow's ci_low / ci_high)."""
    rows = [
        {"Variant": o.variant_id, "Metric": metric, "Value": _value(o, metric), "CI low": low, "CI high": high}
        for o in outcomes
        for metric, (low, high) in o.intervals.items()
    ]
    schema = {
        "Variant": pl.String,
        "Metric": pl.String,
        "Value": pl.Float64,
        "CI low": pl.Float64,
        "CI high": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def with_intervals(table: pl.DataFrame, outcomes: list[VariantOutcome], columns: dict[str, str]) -> pl.DataFrame:
    """The table for reading: each metric cell as "value [low, high]"."""
    cells = {
        name: [_cell(_value(o, metric), o.intervals.get(metric)) for o in outcomes] for metric, name in columns.items()
    }
    return table.with_columns(pl.Series(name, values, dtype=pl.String) for name, values in cells.items())


def _cell(value: float | None, interval: Interval | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else f"{value:.2f}"


def write_comparison(
    outcomes: list[VariantOutcome],
    judge_label: str,
    notes: list[str],
    out_dir: Path,
    significance: pl.DataFrame | None = None,
    marks: list[str] | None = None,
    metric: str = "",
) -> Path:
    """quality.csv, overlap.csv, intervals.csv, significance.csv and comparison.md (both tables with intervals,
    the paired tests, and the notes on how far to trust them)."""
    quality, overlap = quality_table(outcomes, judge_label), overlap_table(outcomes)
    quality.write_csv(out_dir / "quality.csv")
    overlap.write_csv(out_dir / "overlap.csv")
    interval_table(outcomes).write_csv(out_dir / "intervals.csv")
    readable = with_intervals(quality, outcomes, quality_columns(outcomes, judge_label))
    if marks is not None:
        readable = readable.insert_column(1, pl.Series("Not worse than best", marks, dtype=pl.String))
    sections = [
        "# Comparison of the top models (test split; chosen on the validation split)",
        "",
        "Every number is the test split's, with its bootstrap 95% interval over reports in brackets.",
        "",
        markdown_table(readable),
        "",
        markdown_table(with_intervals(overlap, outcomes, overlap_columns())),
        "",
    ]
    if significance is not None:
        significance.write_csv(out_dir / "significance.csv")
        title = f"## Paired tests on test {metric} (difference of means; approximate randomisation, Holm)"
        sections += [title, "", markdown_table(significance, float_digits=3), ""]
    sections += [*[line for note in notes for line in (note, "")]]
    sections.append(
        "BERTScore is raw (no baseline rescaling exists for a local encoder); similarity is the mean cosine of "
        "sentence embeddings. Numbers from different encoders are not comparable."
    )
    (out_dir / "comparison.md").write_text("\n".join(sections) + "\n")
    plot_comparison(outcomes, out_dir / "comparison.png")
    return out_dir


def plot_comparison(outcomes: list[VariantOutcome], path: Path) -> Path:
    """Left: quality per model (baselines included). Right: quality against cost, the study's question."""
    import matplotlib

    matplotlib.use("Agg")  # headless: workers have no display
    import matplotlib.pyplot as plt

    names = [o.variant_id for o in outcomes]
    metrics = {"ROUGE-L F1": "rougeL_f1", "BERTScore F1": "bertscore_f1", "BLEU": "bleu"}
    figure, (bars, cost) = plt.subplots(1, 2, figsize=(14, 0.5 * len(outcomes) + 3))
    height = 0.8 / len(metrics)
    for offset, (label, key) in enumerate(metrics.items()):
        positions = [i + offset * height for i in range(len(outcomes))]
        values = [o.scores[key] for o in outcomes]
        errors = [_error_bar(o, key) for o in outcomes]
        bars.barh(positions, values, height=height, label=label, xerr=np.array(errors).T if all(errors) else None)
    bars.set_yticks([i + height for i in range(len(outcomes))], names, fontsize=8)
    bars.invert_yaxis()
    bars.set_xlabel("score (0-1, higher is better)")
    bars.set_title("Quality on the test split")
    bars.legend(loc="lower right")
    for o in outcomes:
        cost.scatter(o.train_seconds + o.generation_seconds, o.scores["rougeL_f1"])
        cost.annotate(o.variant_id, (o.train_seconds + o.generation_seconds, o.scores["rougeL_f1"]), fontsize=7)
    cost.set_xlabel("training + generation time (s)")
    cost.set_ylabel("ROUGE-L F1")
    cost.set_title("Quality against cost")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _error_bar(outcome: VariantOutcome, metric: str) -> tuple[float, float] | None:
    if metric not in outcome.intervals:
        return None
    low, high = outcome.intervals[metric]
    value = outcome.scores[metric]
    return max(value - low, 0.0), max(high - value, 0.0)
