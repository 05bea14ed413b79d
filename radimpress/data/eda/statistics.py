"""The EDA tables, computed in polars: section lengths, word-count statistics, outliers, missing values, reports per
modality and body part, the most common impressions and phrases, templated normals, vocabulary, and the flat summary.

Every function takes and returns frames (lazy where a table is one step of `eda_statistics`' plan). Impression text
that a table shows goes through `phi.redact_expr` first.
"""

from __future__ import annotations

import polars as pl
import polars.selectors as cs

from radimpress.data.phi import phi_summary, redact_expr
from radimpress.data.sections import OTHER_REASONS, other_sections_amounts

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
PHI_FREE = "placeholder"  # a phi_counts category that is de-identification already done, not PHI
WITHHELD = "[text withheld]"  # what `withhold_text` shows instead of report text


def eda_statistics(reports: pl.DataFrame | pl.LazyFrame) -> dict[str, pl.DataFrame]:
    """The EDA tables per modality, computed by polars in two passes over `reports`.

    Args:
        reports: the kept reports (canonical columns; extra columns are ignored), eager or lazy.

    Returns:
        `word_counts`, `missing`, `modality_counts`, `outliers`, `top_impressions`, `top_ngrams`,
        `templated_normal`, `vocabulary` and `other_sections` (text outside the kept fields, per reason), sorted so
        that equal data give equal tables. Integers are Int64.
    """
    outside = other_sections_table(reports)
    frame = conform(reports)
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
    tables = {name: table.cast({cs.integer(): pl.Int64}) for name, table in zip(plans, tables, strict=True)}
    return tables | {"other_sections": outside}


def other_sections_table(reports: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Per reason (preamble, comparison, technique, after the impression, sign-off): the reports with text that
    no kept field holds, and its characters; zeros for exports whose columns leave nothing outside."""
    has_column = "other_sections" in reports.lazy().collect_schema().names()
    amounts = other_sections_amounts(reports) if has_column else {r: {"reports": 0, "chars": 0} for r in OTHER_REASONS}
    rows = [{"reason": reason, **amount} for reason, amount in amounts.items()]
    return pl.DataFrame(rows, schema={"reason": pl.String, "reports": pl.Int64, "chars": pl.Int64})


def conform(reports: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
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
    """One row per report and section: modality, section, words (split at whitespace; a missing section has 0)."""
    words = [pl.col(s).str.count_matches(r"\S+").fill_null(0).alias(s) for s in SECTIONS]
    return reports.select("modality", *words).unpivot(
        index="modality", on=list(SECTIONS), variable_name="section", value_name="words"
    )


def word_count_stats(lengths: pl.LazyFrame) -> pl.LazyFrame:
    """Per modality and section: reports, missing (0 words) and its share, then mean, std, min, p5, median, p95 and
    max of words over the reports where the section is present.

    A missing section is not a section of 0 words: counted as one, it would give a median of 0 for clinical
    information whenever most reports lack it. Quantiles interpolate linearly, std is the sample std (ddof 1), as
    pandas computes them; null where no report has the section.
    """
    words = pl.col("words")
    present = words.filter(words > 0)
    return (
        lengths.group_by("modality", "section")
        .agg(
            pl.len().alias("reports"),
            (words == 0).sum().alias("missing"),
            ((words == 0).sum() / pl.len()).alias("missing_share"),
            present.mean().alias("mean"),
            present.std().alias("std"),
            present.min().alias("min"),
            present.quantile(0.05, "linear").alias("p5"),
            present.median().alias("median"),
            present.quantile(0.95, "linear").alias("p95"),
            present.max().alias("max"),
        )
        .sort("modality", "section")
    )


# Below this many present sections a 99th percentile is one of the few largest values, so "> p99" would flag a
# fixed count (one report in any group, even of two); a robust z-score flags only what stands out.
P99_MIN_REPORTS = 100
ROBUST_Z_LIMIT = 3.5  # Iglewicz and Hoaglin's cut-off for the modified z-score


def _robust_scale(present: pl.Expr) -> pl.Expr:
    """The spread of a modified z-score: MAD / 0.6745, or, when over half the values are equal (MAD 0), the mean
    absolute deviation x 1.2533 (Iglewicz and Hoaglin); 0 when all values are equal."""
    deviation = (present - present.median()).abs()
    return pl.when(deviation.median() > 0).then(deviation.median() / 0.6745).otherwise(deviation.mean() * 1.2533)


def _long_above(present: pl.Expr) -> pl.Expr:
    """Words above which a section is very long: the p99 in large groups, else median + 3.5 robust spreads (null
    when every length is equal: nothing stands out)."""
    robust = present.median() + ROBUST_Z_LIMIT * _robust_scale(present)
    robust = pl.when(_robust_scale(present) > 0).then(robust)
    return pl.when(present.len() >= P99_MIN_REPORTS).then(present.quantile(0.99, "linear")).otherwise(robust)


def length_outliers(lengths: pl.LazyFrame) -> pl.LazyFrame:
    """Per modality and section, among sections present: very short (< 3 words), very long, |z| > 3.

    Very long is above the p99 where at least `P99_MIN_REPORTS` reports have the section, else a modified z-score
    over `ROBUST_Z_LIMIT`; `long_rule` says which, `long_above` gives the threshold. Missing sections are left out:
    counted as 0 words they would drag the mean and flag nothing useful.
    """
    present = pl.col("words").filter(pl.col("words") > 0)
    z = (present - present.mean()) / present.std()
    long_above = _long_above(present)
    return (
        lengths.group_by("modality", "section")
        .agg(
            present.len().alias("present"),
            (present < 3).sum().alias("very_short"),
            pl.when(present.len() >= P99_MIN_REPORTS)
            .then(pl.lit("p99"))
            .otherwise(pl.lit("robust_z"))
            .alias("long_rule"),
            long_above.alias("long_above"),
            (present > long_above).sum().fill_null(0).alias("very_long"),
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


# --- summaries over the tables: what the pages and MLflow show ---------------------------------------------------


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
    summary |= _section_metrics(
        tables["word_counts"], {"p95": "words_p95", "missing": "missing", "missing_share": "missing_share"}
    )
    summary |= _section_metrics(tables["outliers"], {"very_short": "very_short", "very_long": "very_long"})
    summary |= _section_metrics(tables["vocabulary"], {"vocabulary": "vocabulary"})
    for reason, reports, chars in tables["other_sections"].iter_rows():
        summary |= {f"other_sections.{reason}_reports": reports, f"other_sections.{reason}_chars": chars}
    return {key: value for key, value in summary.items() if value is not None and value == value}  # MLflow: no NaN


def _section_metrics(table: pl.DataFrame, names: dict[str, str]) -> dict[str, float]:
    """`<modality>.<section>_<name>` for each column of `names` in a per-modality-and-section table."""
    rows = table.iter_rows(named=True)
    return {f"{r['modality']}.{r['section']}_{name}": r[column] for r in rows for column, name in names.items()}
