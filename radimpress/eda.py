"""Exploratory data analysis as the study did it: word counts per section and modality, missing values."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from radimpress.markdown import markdown_table

SECTIONS = ("findings", "clinical_information", "impression")


def word_count(column: str) -> pl.Expr:
    """Whitespace-separated words; a missing section counts 0."""
    return pl.col(column).fill_null("").str.count_matches(r"\S+").alias(f"{column}_words")


def word_count_stats(reports: pl.DataFrame) -> pl.DataFrame:
    """Per modality and section: reports, mean, median, 5th and 95th percentile, max of the word counts."""
    counts = reports.select("modality", *(word_count(s) for s in SECTIONS))
    long = counts.unpivot(index="modality", variable_name="section", value_name="words").with_columns(
        pl.col("section").str.strip_suffix("_words")
    )
    return (
        long.group_by("modality", "section")
        .agg(
            pl.len().alias("reports"),
            pl.col("words").mean().round(1).alias("mean"),
            pl.col("words").median().alias("median"),
            pl.col("words").quantile(0.05, "nearest").alias("p5"),
            pl.col("words").quantile(0.95, "nearest").alias("p95"),
            pl.col("words").max().alias("max"),
        )
        .sort("modality", "section")
    )


def missing_values(reports: pl.DataFrame) -> pl.DataFrame:
    """Per modality and column: how many values are missing or blank."""
    columns = [c for c in reports.columns if c not in ("modality", "ground_truth")]
    blank = [
        (pl.col(c).is_null() | (pl.col(c).cast(pl.String).str.strip_chars() == "")).sum().alias(c) for c in columns
    ]
    return reports.group_by("modality").agg(pl.len().alias("reports"), *blank).sort("modality")


def plot_word_counts(reports: pl.DataFrame, path: Path) -> Path:
    """One histogram per section, one colour per modality."""
    import matplotlib

    matplotlib.use("Agg")  # headless: workers have no display
    import matplotlib.pyplot as plt

    counts = reports.select("modality", *(word_count(s) for s in SECTIONS))
    figure, axes = plt.subplots(1, len(SECTIONS), figsize=(5 * len(SECTIONS), 4))
    for axis, section in zip(axes, SECTIONS, strict=True):
        for modality in sorted(counts["modality"].unique()):
            values = counts.filter(pl.col("modality") == modality)[f"{section}_words"].to_list()
            axis.hist(values, bins=20, alpha=0.5, label=modality)
        axis.set_title(f"{section.replace('_', ' ').title()} length")
        axis.set_xlabel("words per report")
        axis.set_ylabel("reports")
    axes[0].legend(title="modality")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def render_markdown(stats: pl.DataFrame, missing: pl.DataFrame, quarantine: pl.DataFrame) -> str:
    """The key numbers as Markdown (the Prefect artifact and the MLflow file)."""
    reasons = quarantine.group_by("reason").len().sort("reason") if quarantine.height else quarantine
    lines = [
        "# EDA",
        f"Reports kept: {missing['reports'].sum()}; quarantined: {quarantine.height}.",
        "",
        "## Word counts per section and modality",
        markdown_table(stats),
        "",
        "## Missing or blank values",
        markdown_table(missing),
    ]
    if quarantine.height:
        lines += ["", "## Quarantined rows by reason", markdown_table(reasons)]
    return "\n".join(lines) + "\n"


def run_eda(reports: pl.DataFrame, quarantine: pl.DataFrame, out_dir: Path) -> Path:
    """Write word_counts.csv, missing.csv, word_counts.png and eda.md to `out_dir`."""
    stats, missing = word_count_stats(reports), missing_values(reports)
    stats.write_csv(out_dir / "word_counts.csv")
    missing.write_csv(out_dir / "missing.csv")
    plot_word_counts(reports, out_dir / "word_counts.png")
    (out_dir / "eda.md").write_text(render_markdown(stats, missing, quarantine))
    return out_dir
