"""Ingest: the synthetic generator or a hospital export, into one canonical report frame.

Nothing is dropped silently: rows that cannot be used go to a quarantine frame with their reason
(see `validation`), so rows in = rows kept + rows quarantined, and every row keeps its `source_row`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from radimpress.config import CANONICAL_COLUMNS, ColumnMapping, DataConfig
from radimpress.data.readers import TEXT_COLUMN, no_unreadable_rows, read_source
from radimpress.data.sections import split_sections_expr
from radimpress.data.validation import check_kept, tag_reasons
from radimpress.errors import InputDataError

REQUIRED_FIELDS = ("findings", "impression")
SECTION_FILLED = ("exam", "clinical_information", "findings", "impression")  # what free text can provide
_HTML_TAG = r"<(?:[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?|/[A-Za-z][A-Za-z0-9]*\s*)/?>"
_HTML_BREAK = r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</li\s*>|</tr\s*>"
# Columns the rules read besides the canonical ones (see validation.RULE_HELPERS), for frames that lack them.
_HELPER_DEFAULTS = {
    "_no_sections": pl.lit(False),
    "_row_numbered_id": pl.lit(False),
    "_headings": pl.lit(None, dtype=pl.String),
    "_text_head": pl.lit(None, dtype=pl.String),
}
_ENTITIES = {"&nbsp;": " ", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&apos;": "'", "&amp;": "&"}


@dataclass(frozen=True)
class IngestResult:
    reports: pl.DataFrame  # usable rows: canonical columns + source_row
    quarantine: pl.DataFrame  # the rejected rows, canonical columns + source_row + reason
    rows_in: int  # rows (or lines, or files) read from the export, counted before any rule ran
    notes: dict[str, object] = field(default_factory=dict)  # encoding, ignored columns, cleaned markup


def ingest(cfg: DataConfig, work_dir: Path | None = None) -> IngestResult:
    """Load the reports the profile names and split off the unusable rows.

    Args:
        work_dir: where a UTF-8 copy of an export in another encoding is written; a temporary folder when None
            (never beside the export, whose folder may be read-only or shared).

    Raises:
        InputDataError: the export cannot be read, lacks a required column, or has no rows.
    """
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="radimpress-ingest-") as folder:
            return ingest(cfg, Path(folder))
    if cfg.source == "synthetic":
        raw, unreadable, notes = _synthetic(cfg), no_unreadable_rows(), {"encoding": "utf-8"}
    else:
        export = read_source(cfg.path, cfg.format, cfg.encoding, work_dir)
        columns = _with_text_column(cfg.columns, export)
        raw = _collect(to_canonical(export.rows, columns, str(cfg.path)), cfg.path)
        unreadable, notes = export.unreadable, _notes(export, columns, raw)
        _check_not_empty(raw, unreadable, columns, cfg.path)
    if cfg.default_modality:
        raw = raw.with_columns(pl.col("modality").fill_null(cfg.default_modality))
    result = quarantine_unusable(raw, cfg.max_section_chars, unreadable)
    rows_in = raw.height + unreadable.height
    if result.reports.height + result.quarantine.height != rows_in:  # a bug in the rules, never the user's data
        raise AssertionError(
            f"ingest lost rows: {rows_in} in, {result.reports.height} kept, {result.quarantine.height} quarantined"
        )
    return IngestResult(result.reports, result.quarantine, rows_in, notes)


def _synthetic(cfg: DataConfig) -> pl.DataFrame:
    from radimpress.sim.synthetic import generate_reports  # demo-only code, reached only for synthetic data

    reports = generate_reports(cfg.n_reports, cfg.seed)
    missing = [pl.lit(None, dtype=pl.String).alias(c) for c in CANONICAL_COLUMNS if c not in reports.columns]
    return (
        reports.with_columns(
            *missing,
            pl.lit(None, dtype=pl.Boolean).alias("_no_sections"),
            pl.lit(False).alias("_had_html"),
            pl.lit(False).alias("_row_numbered_id"),
        )
        .select(*CANONICAL_COLUMNS, "ground_truth", "_no_sections", "_had_html", "_row_numbered_id")
        .with_row_index("source_row", offset=1)
    )


def _with_text_column(columns: ColumnMapping, export) -> ColumnMapping:
    """A folder of .txt reports puts each file's text in `text`: read it as free text unless told otherwise."""
    if columns.text is None and export.fmt == "text_folder":
        return columns.model_copy(update={"text": TEXT_COLUMN})
    return columns


def to_canonical(export: pl.LazyFrame, columns: ColumnMapping, source: str) -> pl.LazyFrame:
    """Rename the export's columns to the canonical ones, clean markup, and fill sections from free text.

    Raises:
        InputDataError: a required column (or the free-text column) is missing.
    """
    export = export.lazy()
    names = export.collect_schema().names()
    _check_columns(names, columns, source)
    fields = [*CANONICAL_COLUMNS, *(["ground_truth"] if columns.ground_truth else [])]
    row_numbered = columns.report_id is None or (columns.report_id == "report_id" and "report_id" not in names)
    canonical = export.select(
        "source_row",
        pl.lit(row_numbered).alias("_row_numbered_id"),
        *(_canonical_column(names, columns, name) for name in fields),
        *([pl.col(columns.text).alias("_text")] if columns.text else []),
    )
    texts = ["findings", "impression", "clinical_information", *(["_text"] if columns.text else [])]
    canonical = canonical.with_columns(_html_flag(texts), *(_clean_text(pl.col(c)).alias(c) for c in fields))
    if not columns.text:
        return canonical.with_columns(pl.lit(None, dtype=pl.Boolean).alias("_no_sections"))
    return _fill_from_free_text(canonical)


def _check_columns(names: list[str], columns: ColumnMapping, source: str) -> None:
    needed = [("text", columns.text)] if columns.text else [(f, getattr(columns, f)) for f in REQUIRED_FIELDS]
    for field_name, column in needed:
        if column not in names:
            shown = ", ".join(n for n in names if n != "source_row")
            raise InputDataError(
                f"{source} has no column '{column}' for {field_name} (set data.columns.{field_name}); "
                f"its columns are: {shown}"
            )


def _canonical_column(names: list[str], columns: ColumnMapping, field_name: str) -> pl.Expr:
    name = getattr(columns, field_name, None)  # other_sections has no column of its own: only free text fills it
    if name is not None and name in names:
        return pl.col(name).cast(pl.String).alias(field_name)
    if name is not None and name != field_name and not (columns.text and field_name in SECTION_FILLED):
        raise InputDataError(f"the export has no column '{name}' named by data.columns.{field_name}")
    if field_name == "report_id":  # no id column: the 1-based row number is the id (duplicates judged on content)
        return pl.col("source_row").cast(pl.String).alias(field_name)
    return pl.lit(None, dtype=pl.String).alias(field_name)


def _html_flag(texts: list[str]) -> pl.Expr:
    return pl.any_horizontal(pl.col(c).str.contains(_HTML_TAG) for c in texts).fill_null(False).alias("_had_html")


def _clean_text(text: pl.Expr) -> pl.Expr:
    """Unify line ends, turn HTML markup into plain text (exports from web viewers carry it), strip."""
    text = text.str.replace_all("\r\n?|[\x0b\x0c]", "\n")  # RIS page breaks (form feed, vertical tab) too
    text = pl.when(text.str.contains(_HTML_TAG)).then(_strip_html(text)).otherwise(text)
    return text.str.strip_chars()


def _strip_html(text: pl.Expr) -> pl.Expr:
    text = text.str.replace_all(_HTML_BREAK, "\n").str.replace_all(_HTML_TAG, "")
    for entity, char in _ENTITIES.items():
        text = text.str.replace_all(entity, char, literal=True)
    return text


def _fill_from_free_text(canonical: pl.LazyFrame) -> pl.LazyFrame:
    """Sections found in the free text fill each field whose own column is absent or blank; the rest of the text
    goes to `other_sections`. The headings found and the text's opening are kept for the quarantine's detail."""
    text = _clean_text(pl.col("_text"))
    split = canonical.with_columns(split_sections_expr(text).alias("_sections"))
    sections = pl.col("_sections")
    filled = [
        pl.when(pl.col(f).is_null() | (pl.col(f) == ""))
        .then(sections.struct.field(f).str.strip_chars())
        .otherwise(pl.col(f))
        .alias(f)
        for f in SECTION_FILLED
    ]
    headings = sections.struct.field("headings")
    # Quarantined for want of headings only when the text had to supply findings or impression and could not.
    needed = pl.any_horizontal(pl.col(f).is_null() | (pl.col(f) == "") for f in ("findings", "impression"))
    no_sections = needed & (text.fill_null("") != "") & headings.is_null()
    helpers = [no_sections.alias("_no_sections"), headings.alias("_headings"), text.str.head(60).alias("_text_head")]
    other = sections.struct.field("other_sections").alias("other_sections")
    return split.with_columns(*helpers).with_columns(*filled, other).drop("_text", "_sections")


def _collect(frame: pl.LazyFrame, source: Path) -> pl.DataFrame:
    """Run the scan; a malformed file fails here, with a hint at the usual cause."""
    try:
        return frame.collect()
    except pl.exceptions.PolarsError as exc:
        message = str(exc).strip().splitlines()[0]
        hint = ""
        if "more fields" in message:
            hint = " (a row has more values than the header has columns: an unquoted separator?)"
        elif "could not parse" in message or "unterminated" in message.lower():
            hint = " (an unterminated quote: is the file truncated?)"
        raise InputDataError(f"cannot read {source}: {message}{hint}") from None


def _check_not_empty(raw: pl.DataFrame, unreadable: pl.DataFrame, columns: ColumnMapping, source: Path) -> None:
    if raw.height == 0 and unreadable.height == 0:
        raise InputDataError(f"{source} has a header but no report rows")
    if columns.text:
        return
    for field_name in REQUIRED_FIELDS:
        if raw.height and raw[field_name].fill_null("").eq("").all():
            column = getattr(columns, field_name)
            raise InputDataError(f"column '{column}' ({field_name}) of {source} is empty in every row")


def _notes(export, columns: ColumnMapping, raw: pl.DataFrame) -> dict[str, object]:
    used = {v for v in columns.model_dump().values() if v}
    ignored = [c for c in export.rows.collect_schema().names() if c not in used and c != "source_row"]
    notes = {"encoding": export.encoding, "ignored_columns": ignored, "html_cleaned_rows": int(raw["_had_html"].sum())}
    return notes | ({"skipped_files": list(export.skipped)} if export.skipped else {})


def quarantine_unusable(
    reports: pl.DataFrame, max_section_chars: int = 20_000, unreadable: pl.DataFrame | None = None
) -> IngestResult:
    """Tag each row with the first reason it cannot be used (or null) and split the frame on it."""
    if "source_row" not in reports.columns:
        reports = reports.with_row_index("source_row", offset=1)
    for helper, default in _HELPER_DEFAULTS.items():
        if helper not in reports.columns:
            reports = reports.with_columns(default.alias(helper))
    tagged = tag_reasons(reports, max_section_chars).drop(*_HELPER_DEFAULTS, "_had_html", strict=False)
    order = [*CANONICAL_COLUMNS, *(["ground_truth"] if "ground_truth" in tagged.columns else []), "source_row"]
    kept = check_kept(tagged.filter(pl.col("reason").is_null()).select(order), max_section_chars)
    quarantine = tagged.filter(pl.col("reason").is_not_null()).select(*order, "reason", "detail")
    lines = no_unreadable_rows() if unreadable is None else unreadable
    lines = lines.select(pl.col("source_row").cast(tagged.schema["source_row"]), "reason", "detail")
    quarantine = pl.concat([quarantine, lines], how="diagonal").sort("source_row")
    return IngestResult(reports=kept, quarantine=quarantine, rows_in=reports.height + lines.height)
