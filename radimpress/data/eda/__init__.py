"""Exploratory data analysis per modality, as the study did it and a little further.

`eda_statistics` computes the tables (section lengths, missing values, outliers, the most common impressions and
phrases, templated normals, vocabulary) in polars; `run_eda` writes them as CSV, plots, Markdown, a self-contained
HTML page for radiologists and flat metrics for MLflow. Report text that is shown goes through `phi.redact_expr` first.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import polars as pl
import polars.selectors as cs

from radimpress.files import write_json
from radimpress.markdown import markdown_table
from radimpress.data.phi import phi_summary, redact_expr

SECTIONS = ("clinical_information", "findings", "impression")
COLUMNS = ("report_id", "patient_id", "study_id", "modality", "body_part", "exam", *SECTIONS)
OPTIONAL = ("patient_id", "study_id", "body_part", "exam", "clinical_information")
# A word for vocabulary and n-grams: lower-cased letters and digits; decimals ("2.5"), hyphenated terms ("c5-6") and
# redaction tags ("[date]") stay whole.
WORD = r"\[[a-z0-9_>]+\]|[a-z0-9]+(?:['.-][a-z0-9]+)*"
# Where n-grams stop: sentence punctuation before a space or the end, and list numbers ("1. ", "2) ").
SENTENCE_BREAK = r"\b\d{1,2}[.)] |[.;:!?]+(?: |$)"
# Impressions lead with what matters most, so a normal one opens with a normal statement (after an optional "1. "):
# "no acute disease" is normal, "cardiomegaly, no acute pulmonary findings" is not.
NORMAL = r"^(?:1[.)] )?(?:no acute|normal|unremarkable|no active|negative|clear)\b"
# A normal-sounding impression that hedges, contrasts, grades or asks for action reports a finding after all:
# "no acute fracture but mild degenerative change", "normal, clinical correlation recommended".
NOT_NORMAL = (
    r"\b(?:but|however|except|although|suspicious|suspected|concerning|worrisome|possible|possibly|probable|"
    r"likely|mild|moderate|severe|marked|recommend\w*|biopsy|correlat\w*)\b"
)
# N-grams that start or end on one of these ("of the", "consistent with a") say nothing clinical; "no" is kept.
STOP_WORDS = tuple("a an and are as at be by for from in is it of on or the there this to was were with".split())
TOP_IMPRESSIONS = 10
TOP_NGRAMS = 15
NGRAM_SIZES = (2, 3)


def eda_statistics(reports: pl.DataFrame | pl.LazyFrame) -> dict[str, pl.DataFrame]:
    """The EDA tables per modality, computed by polars in two passes over `reports`.

    Args:
        reports: the kept reports (canonical columns; extra columns are ignored), eager or lazy.

    Returns:
        `word_counts`, `missing`, `modality_counts`, `outliers`, `top_impressions`, `top_ngrams`,
        `templated_normal` and `vocabulary`, sorted so that equal data give equal tables. Integers are Int64.
    """
    frame = _conform(reports)
    lengths = section_lengths(frame)
    totals = frame.group_by("modality").agg(pl.len().alias("reports"))
    # Collected once: in one plan the streaming engine would redact the impressions again for each table using them.
    impressions = impression_counts(frame).collect(engine="streaming").lazy()
    plans = {
        "word_counts": word_count_stats(lengths),
        "missing": missing_values(frame),
        "modality_counts": modality_counts(frame),
        "outliers": length_outliers(lengths),
        "top_impressions": top_impressions(impressions, totals),
        "top_ngrams": top_ngrams(impressions),
        "templated_normal": templated_normals(impressions, totals),
        "vocabulary": vocabulary(frame),
    }
    # One plan, so the section lengths are counted once; streaming keeps the exploded words small.
    tables = pl.collect_all(plans.values(), engine="streaming")
    return {name: table.cast({cs.integer(): pl.Int64}) for name, table in zip(plans, tables, strict=True)}


def _conform(reports: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """The canonical columns only; optional columns an export lacks are null, an unknown modality is `unknown`."""
    lazy = reports.lazy()
    names = lazy.collect_schema().names()
    absent = [c for c in OPTIONAL if c not in names]
    return lazy.with_columns(pl.lit(None, pl.String).alias(c) for c in absent).select(
        *(pl.col(c) for c in COLUMNS if c != "modality"), pl.col("modality").fill_null("unknown")
    )


def _has_text(column: str) -> pl.Expr:
    """False for null and whitespace-only values."""
    return pl.col(column).str.contains(r"\S").fill_null(False)


def section_lengths(reports: pl.LazyFrame) -> pl.LazyFrame:
    """One row per report and section: modality, section, words (split at whitespace; missing = 0, as the study did)."""
    words = [pl.col(s).str.count_matches(r"\S+").fill_null(0).alias(s) for s in SECTIONS]
    return reports.select("modality", *words).unpivot(
        index="modality", on=list(SECTIONS), variable_name="section", value_name="words"
    )


def word_count_stats(lengths: pl.LazyFrame) -> pl.LazyFrame:
    """Per modality and section: reports, missing (0 words), mean, std, min, p5, median, p95, max of words per report.

    Quantiles interpolate linearly and std is the sample std (ddof 1), as pandas computes them.
    """
    words = pl.col("words")
    return (
        lengths.group_by("modality", "section")
        .agg(
            pl.len().alias("reports"),
            (words == 0).sum().alias("missing"),
            words.mean().alias("mean"),
            words.std().alias("std"),
            words.min().alias("min"),
            words.quantile(0.05, "linear").alias("p5"),
            words.median().alias("median"),
            words.quantile(0.95, "linear").alias("p95"),
            words.max().alias("max"),
        )
        .sort("modality", "section")
    )


def length_outliers(lengths: pl.LazyFrame) -> pl.LazyFrame:
    """Per modality and section, among sections present: very short (< 3 words), very long (> p99), |z| > 3.

    Missing sections are left out here: counted as 0 words they would drag the mean and flag nothing useful.
    """
    present = pl.col("words").filter(pl.col("words") > 0)
    p99 = present.quantile(0.99, "linear")
    z = (present - present.mean()) / present.std()
    return (
        lengths.group_by("modality", "section")
        .agg(
            present.len().alias("present"),
            (present < 3).sum().alias("very_short"),
            p99.alias("p99"),
            (present > p99).sum().alias("very_long"),
            (z.abs().fill_nan(0) > 3).sum().alias("z_over_3"),  # NaN where all lengths are equal (std 0)
        )
        .sort("modality", "section")
    )


def missing_values(reports: pl.LazyFrame) -> pl.LazyFrame:
    """Per modality and column: reports, missing (null or blank) and their share."""
    columns = [c for c in COLUMNS if c != "modality"]
    blank = [(~_has_text(c)).sum().alias(c) for c in columns]
    return (
        reports.group_by("modality")
        .agg(pl.len().alias("reports"), *blank)
        .unpivot(index=["modality", "reports"], on=columns, variable_name="column", value_name="missing")
        .with_columns((pl.col("missing") / pl.col("reports")).alias("share"))
        .sort("modality", maintain_order=True)  # stable: columns keep the canonical order within a modality
    )


def modality_counts(reports: pl.LazyFrame) -> pl.LazyFrame:
    """Reports per modality and body part, most frequent body part first."""
    return (
        reports.group_by("modality", "body_part")
        .agg(pl.len().alias("reports"))
        .sort(["modality", "reports", "body_part"], descending=[False, True, False], nulls_last=True)
    )


def normalise(text: pl.Expr) -> pl.Expr:
    """Lower-cased, whitespace collapsed, trailing periods stripped: "No acute  process." == "no acute process"."""
    collapsed = text.str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    return collapsed.str.strip_chars_end(".").str.strip_chars_end()


def impression_counts(reports: pl.LazyFrame) -> pl.LazyFrame:
    """Per modality, each redacted and normalised impression with the number of reports that carry it."""
    return (
        reports.group_by("modality", "impression")  # redact each distinct text once: exports repeat templates
        .agg(pl.len().alias("count"))
        .with_columns(normalise(redact_expr(pl.col("impression"))))
        .filter(pl.col("impression") != "")
        .group_by("modality", "impression")
        .agg(pl.col("count").sum())
    )


def _top(frame: pl.LazyFrame, groups: list[str], by: str, k: int) -> pl.LazyFrame:
    """The k rows with the highest count per group, ties broken by `by`; rank from 1."""
    return (
        frame.sort([*groups, "count", by], descending=[*(False for _ in groups), True, False])
        .group_by(groups, maintain_order=True)
        .head(k)
        .with_columns((pl.int_range(pl.len()).over(groups) + 1).alias("rank"))
    )


def top_impressions(impressions: pl.LazyFrame, totals: pl.LazyFrame) -> pl.LazyFrame:
    """Per modality, the most common impressions: rank, impression, count and share of the modality's reports."""
    shares = impressions.join(totals, on="modality").with_columns((pl.col("count") / pl.col("reports")).alias("share"))
    top = _top(shares, ["modality"], "impression", TOP_IMPRESSIONS)
    return top.select("modality", "rank", "impression", "count", "share")


def templated_normals(impressions: pl.LazyFrame, totals: pl.LazyFrame) -> pl.LazyFrame:
    """Per modality: reports whose impression is a normal template, i.e. repeated word for word and reading as normal.

    Columns: modality, reports, templated_normal (reports), templates (distinct such impressions), share.
    """
    text = pl.col("impression")
    templated = (pl.col("count") >= 2) & text.str.contains(NORMAL) & ~text.str.contains(NOT_NORMAL)
    per_modality = (
        impressions.filter(templated)
        .group_by("modality")
        .agg(pl.col("count").sum().alias("templated_normal"), pl.len().alias("templates"))
    )
    return (
        totals.join(per_modality, on="modality", how="left")
        .with_columns(pl.col("templated_normal", "templates").fill_null(0))
        .with_columns((pl.col("templated_normal") / pl.col("reports")).alias("share"))
        .sort("modality")
    )


def _sentences(impressions: pl.LazyFrame) -> pl.LazyFrame:
    """Per modality, each distinct sentence of the impressions with the number of reports that carry it."""
    sentences = pl.col("impression").str.replace_all(SENTENCE_BREAK, "\n").str.split("\n")  # normalised: no \n left
    return (
        impressions.select("modality", "count", sentences.alias("sentence"))
        .explode("sentence")
        .group_by("modality", "sentence")  # counted once per distinct sentence: impressions share sentences
        .agg(pl.col("count").sum())
    )


def _ngrams(words: pl.LazyFrame, n: int) -> pl.LazyFrame:
    """Runs of n words within one sentence, not starting or ending on a stop word, weighted by the sentence's count."""
    parts = [pl.col("word").shift(-i) for i in range(n)]
    same_sentence = pl.col("sentence_id").shift(-(n - 1)) == pl.col("sentence_id")  # exploded words are contiguous
    content = ~parts[0].is_in(STOP_WORDS) & ~parts[-1].is_in(STOP_WORDS)
    return (
        words.with_columns(pl.concat_str(parts, separator=" ").alias("ngram"), (same_sentence & content).alias("keep"))
        .filter("keep")  # after the shifts: filtering first would join words of neighbouring rows
        .group_by("modality", "ngram")
        .agg(pl.col("count").sum())
        .with_columns(pl.lit(n).alias("n"))
    )


def top_ngrams(impressions: pl.LazyFrame) -> pl.LazyFrame:
    """Per modality and n in (2, 3), the most common word n-grams of the impressions: rank, ngram, count.

    N-grams stay within a sentence and do not start or end on a stop word, so "pleural effusion" counts, "of the" not.
    """
    words = (
        _sentences(impressions)
        .with_row_index("sentence_id")
        .with_columns(pl.col("sentence").str.extract_all(WORD).alias("word"))
        .explode("word")
    )
    grams = pl.concat([_ngrams(words, n) for n in NGRAM_SIZES])
    top = _top(grams, ["modality", "n"], "ngram", TOP_NGRAMS)
    return top.select("modality", "n", "rank", "ngram", "count")


def vocabulary(reports: pl.LazyFrame) -> pl.LazyFrame:
    """Per modality and section: the number of distinct lower-cased words (the vocabulary)."""
    texts = reports.unpivot(index="modality", on=list(SECTIONS), variable_name="section", value_name="text")
    # Reports repeat sentences word for word: tokenising distinct sentences only is 3x faster. Cutting at ". "
    # never cuts a word, so the vocabulary is the same.
    sentences = texts.select("modality", "section", pl.col("text").str.to_lowercase().str.split(". ")).explode("text")
    words = sentences.unique().select("modality", "section", pl.col("text").str.extract_all(WORD).alias("word"))
    return (
        words.explode("word")
        .unique()
        .group_by("modality", "section")
        .agg(pl.col("word").count().alias("vocabulary"))  # count() skips the null of a missing section
        .sort("modality", "section")
    )


# --- reporting: plots, Markdown, HTML, metrics --------------------------------------------------------------------

PLOTS = {  # file -> caption
    "word_counts.png": "Words per report, by section and modality",
    "section_lengths.png": "Section lengths per modality",
    "top_impressions.png": "Most common impressions of the largest modality",
    "quarantine.png": "Quarantined rows by reason",
    "phi.png": "PHI found per category and column",
}
PHI_FREE = "placeholder"  # a phi_counts category that is de-identification already done, not PHI


def run_eda(
    reports: pl.DataFrame | pl.LazyFrame,
    quarantine: pl.DataFrame,
    phi: pl.DataFrame,
    out_dir: Path,
    show_text: bool = True,
) -> Path:
    """Write the EDA of the kept reports into `out_dir` and return it.

    Writes one CSV per `eda_statistics` table, the PNG plots of `PLOTS`, `eda.md` (the Prefect artifact),
    `eda.html` (self-contained, for radiologists) and `summary.json` (flat metrics for MLflow).

    Args:
        reports: the kept reports.
        quarantine: the rejected rows with their `reason`.
        phi: `phi.phi_counts` of the ingested reports (column, category, reports, matches).
        out_dir: the folder to write into; created if missing.
        show_text: False replaces the text of the common impressions and phrases by a placeholder (their counts
            and shares stay), for profiles that let no report text into artifacts.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = eda_statistics(reports)
    if not show_text:
        tables = withhold_text(tables)
    for name, table in tables.items():
        table.write_csv(out_dir / f"{name}.csv")
    reasons = quarantine_reasons(quarantine)
    lengths = section_lengths(_conform(reports)).collect()
    plots = write_plots(tables, lengths, reasons, phi, out_dir)
    summary = eda_summary(tables, reasons, phi)
    (out_dir / "eda.md").write_text(render_markdown(summary, tables, reasons, phi))
    (out_dir / "eda.html").write_text(render_html(summary, tables, reasons, phi, plots))
    write_json(summary, out_dir / "summary.json")
    return out_dir


WITHHELD = "[text withheld]"


def withhold_text(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The tables with every piece of report text replaced by WITHHELD."""
    text_columns = {"top_impressions": "impression", "top_ngrams": "ngram"}
    return {
        name: table.with_columns(pl.lit(WITHHELD).alias(text_columns[name])) if name in text_columns else table
        for name, table in tables.items()
    }


def quarantine_reasons(quarantine: pl.DataFrame) -> pl.DataFrame:
    """Quarantined rows per reason, most frequent first."""
    counts = quarantine.group_by("reason").agg(pl.len().cast(pl.Int64).alias("rows"))
    return counts.sort(["rows", "reason"], descending=[True, False])


def phi_found(phi: pl.DataFrame) -> pl.DataFrame:
    """The PHI rows of `phi_counts` with at least one match; placeholders are not PHI."""
    return phi.filter((pl.col("matches") > 0) & (pl.col("category") != PHI_FREE))


def modality_overview(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Per modality what a radiologist asks first: reports, median words per section, templated normal share."""
    medians = tables["word_counts"].pivot(on="section", index="modality", values="median", sort_columns=True)
    medians = medians.rename({s: f"{s}_median_words" for s in SECTIONS if s in medians.columns})
    templated = tables["templated_normal"].select(
        "modality", "reports", pl.col("share").alias("templated_normal_share")
    )
    return templated.join(medians, on="modality").select(
        "modality", "reports", cs.ends_with("_median_words"), "templated_normal_share"
    )


def eda_summary(tables: dict[str, pl.DataFrame], reasons: pl.DataFrame, phi: pl.DataFrame) -> dict[str, float]:
    """Flat metrics for MLflow: totals, `quarantine.<reason>`, `phi.<category>`, and `<modality>.<metric>`."""
    templated = tables["templated_normal"]
    kept = int(templated["reports"].sum())
    summary: dict[str, float] = {
        "reports_kept": kept,
        "reports_quarantined": int(reasons["rows"].sum()),
        "modalities": templated.height,
        "templated_normal_share": templated["templated_normal"].sum() / kept if kept else 0.0,
        "phi_matches": int(phi_found(phi)["matches"].sum()),
    }
    summary |= {f"quarantine.{reason}": rows for reason, rows in reasons.iter_rows()}
    summary |= phi_summary(phi)
    summary |= {f"{m}.reports": n for m, n in templated.select("modality", "reports").iter_rows()}
    summary |= {f"{m}.templated_normal_share": v for m, v in templated.select("modality", "share").iter_rows()}
    summary |= _section_metrics(tables["word_counts"], {"median": "words_median", "mean": "words_mean"})
    summary |= _section_metrics(tables["word_counts"], {"p95": "words_p95", "missing": "missing"})
    summary |= _section_metrics(tables["outliers"], {"very_short": "very_short", "very_long": "very_long"})
    summary |= _section_metrics(tables["vocabulary"], {"vocabulary": "vocabulary"})
    return {key: value for key, value in summary.items() if value is not None and value == value}  # MLflow: no NaN


def _section_metrics(table: pl.DataFrame, names: dict[str, str]) -> dict[str, float]:
    """`<modality>.<section>_<name>` for each column of `names` in a per-modality-and-section table."""
    rows = table.iter_rows(named=True)
    return {f"{r['modality']}.{r['section']}_{name}": r[column] for r in rows for column, name in names.items()}


# --- plots ------------------------------------------------------------------------------------------------------


def write_plots(
    tables: dict[str, pl.DataFrame], lengths: pl.DataFrame, reasons: pl.DataFrame, phi: pl.DataFrame, out_dir: Path
) -> dict[str, Path]:
    """Every plot of `PLOTS` as a PNG in `out_dir`, by file name."""
    largest = tables["templated_normal"].sort(["reports", "modality"], descending=[True, False])["modality"]
    return {
        "word_counts.png": plot_word_counts(lengths, out_dir / "word_counts.png"),
        "section_lengths.png": plot_section_lengths(lengths, out_dir / "section_lengths.png"),
        "top_impressions.png": plot_top_impressions(
            tables["top_impressions"], largest.first(), out_dir / "top_impressions.png"
        ),
        "quarantine.png": plot_quarantine(reasons, out_dir / "quarantine.png"),
        "phi.png": plot_phi(phi, out_dir / "phi.png"),
    }


def _pyplot():
    """matplotlib's pyplot on the Agg backend: workers have no display. Imported late: it is slow to import."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    _pyplot().close(figure)
    return path


def _title(section: str) -> str:
    return section.replace("_", " ").capitalize()


def _by_modality(lengths: pl.DataFrame, section: str) -> dict[str, np.ndarray]:
    """Words per report of one section, per modality in name order (so colours follow the same order everywhere)."""
    frame = lengths.filter(pl.col("section") == section)
    parts = frame.partition_by("modality", as_dict=True, include_key=False)
    return {key[0]: part["words"].to_numpy() for key, part in sorted(parts.items())}


def plot_word_counts(lengths: pl.DataFrame, path: Path) -> Path:
    """One histogram per section, one line per modality, each modality's bars summing to 1 so small ones show."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(SECTIONS), figsize=(5 * len(SECTIONS), 4), squeeze=False)
    for axis, section in zip(axes[0], SECTIONS, strict=True):
        groups = _by_modality(lengths, section)
        upper = int(lengths.filter(pl.col("section") == section)["words"].quantile(0.99, "nearest") or 0) + 1
        step = -(-upper // 30)  # about 30 bins, each a whole number of words wide
        for modality, words in groups.items():
            weights = np.full(len(words), 1 / len(words))
            axis.hist(
                words,
                bins=range(0, upper + step, step),
                weights=weights,
                histtype="step",
                linewidth=1.5,
                label=f"{modality} (n={len(words):,})",
            )
        axis.set_title(f"{_title(section)} (up to the 99th percentile)")
        axis.set_xlabel("words per report (missing = 0)")
        axis.set_ylabel("share of the modality's reports")
    axes[0][0].legend(title="modality")
    return _save(figure, path)


def plot_section_lengths(lengths: pl.DataFrame, path: Path) -> Path:
    """Box plots of section length per modality, present sections only; whiskers at the 5th and 95th percentile."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(SECTIONS), figsize=(5 * len(SECTIONS), 4), squeeze=False)
    present = lengths.filter(pl.col("words") > 0)
    for axis, section in zip(axes[0], SECTIONS, strict=True):
        groups = _by_modality(present, section)
        if groups:
            axis.boxplot(list(groups.values()), tick_labels=list(groups), whis=(5, 95), showfliers=False)
        axis.set_title(f"{_title(section)} where present")
        axis.set_xlabel("modality")
        axis.set_ylabel("words per report")
        axis.tick_params(axis="x", labelrotation=30)
    figure.suptitle("Section length per modality (box: quartiles, whiskers: 5th-95th percentile)")
    return _save(figure, path)


def _bar_labels(texts: list[str], width: int = 60) -> list[str]:
    """Long labels cut to `width` characters so the bars keep their room."""
    return [text if len(text) <= width else text[: width - 1] + "…" for text in texts]


def plot_top_impressions(top: pl.DataFrame, modality: str | None, path: Path) -> Path:
    """Horizontal bars of one modality's most common (redacted) impressions, the most common on top."""
    plt = _pyplot()
    rows = top.filter(pl.col("modality") == modality).sort("rank", descending=True)
    figure, axis = plt.subplots(figsize=(10, 0.4 * max(rows.height, 3) + 1.5))
    bars = axis.barh(_bar_labels(rows["impression"].to_list()), rows["count"].to_list(), color="tab:blue")
    axis.bar_label(bars, labels=[f" {share:.1%}" for share in rows["share"]], fontsize=8)
    axis.set_title(f"Most common impressions: {modality} (share of its reports)")
    axis.set_xlabel("reports")
    axis.set_ylabel("normalised impression (PHI redacted)")
    return _save(figure, path)


def plot_quarantine(reasons: pl.DataFrame, path: Path) -> Path:
    """Bars of quarantined rows per reason."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 0.4 * max(reasons.height, 3) + 1.5))
    bars = axis.barh(reasons["reason"].to_list()[::-1], reasons["rows"].to_list()[::-1], color="tab:red")
    axis.bar_label(bars, fmt=" {:,.0f}", fontsize=8)
    if reasons.is_empty():
        axis.text(0.5, 0.5, "no row was quarantined", ha="center", va="center", transform=axis.transAxes)
    axis.set_title(f"Quarantined rows by reason ({reasons['rows'].sum():,} in all)")
    axis.set_xlabel("quarantined rows")
    axis.set_ylabel("reason")
    return _save(figure, path)


def plot_phi(phi: pl.DataFrame, path: Path) -> Path:
    """Grouped bars: reports with a PHI match per category, one bar per text column."""
    plt = _pyplot()
    found = phi_found(phi)
    categories = sorted(found["category"].unique().to_list())
    columns = sorted(found["column"].unique().to_list())
    figure, axis = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(len(columns), 1)
    for i, column in enumerate(columns):
        counts = dict(found.filter(pl.col("column") == column).select("category", "reports").iter_rows())
        xs = [c + i * width for c in range(len(categories))]
        axis.bar(xs, [counts.get(c, 0) for c in categories], width=width, label=column)
    axis.set_xticks([c + 0.4 - width / 2 for c in range(len(categories))], categories)
    if columns:
        axis.legend(title="column")
    else:
        axis.text(0.5, 0.5, "no PHI found by the regex screen", ha="center", va="center", transform=axis.transAxes)
    axis.set_title("PHI found per category and column (before redaction)")
    axis.set_xlabel("PHI category")
    axis.set_ylabel("reports with a match")
    return _save(figure, path)


# --- Markdown ---------------------------------------------------------------------------------------------------


def _headline(summary: dict[str, float]) -> list[str]:
    """The key numbers as sentences, for Markdown and HTML alike."""
    reasons = [(k.removeprefix("quarantine."), v) for k, v in summary.items() if k.startswith("quarantine.")]
    phi = [(k.removeprefix("phi."), v) for k, v in summary.items() if k.startswith("phi.") and v]
    placeholders = dict(phi).pop(PHI_FREE, 0)
    modalities = sorted(
        ((k.removesuffix(".reports"), n) for k, n in summary.items() if k.endswith(".reports")),
        key=lambda m: (-m[1], m[0]),
    )
    phi = [(category, n) for category, n in phi if category != PHI_FREE]
    return [
        f"Reports kept: {summary['reports_kept']:,}; quarantined: {summary['reports_quarantined']:,}.",
        f"Modalities: {summary['modalities']} ({', '.join(f'{m} {n:,}' for m, n in modalities)}).",
        f"Templated normal impressions: {summary['templated_normal_share']:.1%} of kept reports.",
        "Quarantine by reason: " + (", ".join(f"{r} {n:,}" for r, n in reasons) or "none") + ".",
        f"PHI matches found by the regex screen: {summary['phi_matches']:,}"
        + (" (reports with a match per category: " + ", ".join(f"{c} {n:,}" for c, n in phi) + ")." if phi else "."),
        f"De-identification placeholders already in the text (such as XXXX): {placeholders:,} report fields.",
    ]


def _escape_pipes(frame: pl.DataFrame) -> pl.DataFrame:
    """Report text may hold `|`, which would split a Markdown table cell."""
    return frame.with_columns(cs.string().str.replace_all("|", r"\|", literal=True))


def render_markdown(
    summary: dict[str, float], tables: dict[str, pl.DataFrame], reasons: pl.DataFrame, phi: pl.DataFrame
) -> str:
    """The Prefect artifact: key numbers first, then every table; plots referenced by file name."""
    sections = {
        "Per modality": modality_overview(tables),
        "Quarantined rows by reason": reasons,
        "PHI found per column and category": phi_found(phi),
        "Word counts per section and modality": tables["word_counts"],
        "Length outliers (present sections)": tables["outliers"],
        "Missing or blank values": _missing_wide(tables["missing"]),
        "Reports per modality and body part": tables["modality_counts"],
        "Most common impressions (PHI redacted)": tables["top_impressions"],
        "Most common phrases of impressions": tables["top_ngrams"],
        "Templated normal impressions": tables["templated_normal"],
        "Vocabulary (distinct words)": tables["vocabulary"],
    }
    lines = ["# EDA", "", *_headline(summary)]
    for title, table in sections.items():
        lines += ["", f"## {title}", markdown_table(_escape_pipes(table)) if table.height else "None."]
    lines += ["", "## Plots", *(f"![{caption}]({name})" for name, caption in PLOTS.items())]
    return "\n".join(lines) + "\n"


def _missing_wide(missing: pl.DataFrame) -> pl.DataFrame:
    """Missing or blank values as one row per modality, one column per report column."""
    return missing.pivot(on="column", index=["modality", "reports"], values="missing", sort_columns=False)


# --- HTML -------------------------------------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 80rem; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #ccc; margin-top: 2.5rem; }
.headline { background: #eef4fb; border: 1px solid #9bbbe0; border-radius: 8px; padding: 1rem 1.5rem; }
.facts { display: flex; flex-wrap: wrap; gap: 1rem; margin: 0.5rem 0 1rem; }
.fact { background: white; border-radius: 6px; padding: 0.5rem 1rem; min-width: 9rem; }
.fact b { display: block; font-size: 1.6rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; } th { background: #f3f3f3; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; border: 1px solid #eee; } .note { color: #555; font-size: 0.9rem; }
"""


TEMPLATED_NOTE = (
    "A templated normal is an impression whose normalised text occurs in two or more reports of the modality, opens "
    "with a normal statement (no acute, normal, unremarkable, no active, negative, clear) and neither hedges, "
    "contrasts, grades nor recommends (but, however, possible, mild, severe, recommend, biopsy, ...)."
)
NGRAM_NOTE = (
    "Two- and three-word phrases of the impressions, counted within a sentence; phrases that start or end on a "
    "word such as 'of' or 'the' are left out."
)


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _cell(column: str, value: object) -> str:
    """One table cell, numbers right-aligned; shares as percentages."""
    if value is None:
        return "<td>-</td>"
    if isinstance(value, float):
        text = f"{value:.1%}" if column.endswith("share") else f"{value:,.1f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        return f"<td>{html.escape(str(value))}</td>"
    return f'<td class="number">{text}</td>'


def html_table(frame: pl.DataFrame) -> str:
    """A frame as an HTML table, every value escaped."""
    if frame.is_empty():
        return "<p>None.</p>"
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in frame.columns)
    rows = ("".join(_cell(c, v) for c, v in zip(frame.columns, row, strict=True)) for row in frame.iter_rows())
    body = "".join(f"<tr>{row}</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_image(path: Path, caption: str) -> str:
    """A PNG embedded as a data: URI, so the page reads offline and travels as one file."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}"></figure>'


def _facts(summary: dict[str, float]) -> str:
    facts = {
        "reports kept": f"{summary['reports_kept']:,}",
        "modalities": f"{summary['modalities']:,}",
        "templated normal impressions": f"{summary['templated_normal_share']:.1%}",
        "rows quarantined": f"{summary['reports_quarantined']:,}",
        "PHI matches found": f"{summary['phi_matches']:,}",
    }
    return "".join(f'<div class="fact"><b>{v}</b>{html.escape(k)}</div>' for k, v in facts.items())


def render_html(
    summary: dict[str, float],
    tables: dict[str, pl.DataFrame],
    reasons: pl.DataFrame,
    phi: pl.DataFrame,
    plots: dict[str, Path],
) -> str:
    """A self-contained page: the headline box first, then plots and tables per topic; all text escaped."""
    figure = {name: html_image(path, PLOTS[name]) for name, path in plots.items()}
    sections = {
        "Report lengths": [
            figure["word_counts.png"],
            figure["section_lengths.png"],
            html_table(tables["word_counts"]),
            "<h3>Outliers (present sections)</h3>",
            html_table(tables["outliers"]),
        ],
        "Impressions": [
            figure["top_impressions.png"],
            html_table(tables["top_impressions"]),
            "<h3>Templated normal impressions</h3>",
            _note(TEMPLATED_NOTE),
            html_table(tables["templated_normal"]),
            "<h3>Most common phrases</h3>",
            _note(NGRAM_NOTE),
            html_table(tables["top_ngrams"]),
        ],
        "Modalities and body parts": [html_table(tables["modality_counts"])],
        "Missing or blank values": [html_table(_missing_wide(tables["missing"]))],
        "Vocabulary": [html_table(tables["vocabulary"])],
        "Quarantine": [figure["quarantine.png"], html_table(reasons)],
        "PHI": [figure["phi.png"], html_table(phi_found(phi))],
    }
    body = "".join(f"<section><h2>{html.escape(t)}</h2>{''.join(parts)}</section>" for t, parts in sections.items())
    headline = "".join(f"<li>{html.escape(line)}</li>" for line in _headline(summary))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Radiology reports: exploratory data analysis</title>
<style>{CSS}</style></head><body>
<div class="headline"><h1>Radiology reports: exploratory data analysis</h1>
<div class="facts">{_facts(summary)}</div>
{html_table(modality_overview(tables))}
<ul>{headline}</ul>
<p class="note">Lengths are whitespace-separated words per report. Report text on this page has PHI replaced
by tags such as [DATE] and [NAME]; a regex screen cannot catch every name or address.</p></div>
{body}
</body></html>
"""
