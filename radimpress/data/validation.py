"""Which reports are usable, and why the others are not: one ordered table of rules.

Each rule is a reason code, what it means, and a polars expression that is true for a row that breaks it.
`tag_reasons` gives every row the first rule it breaks (the quarantine reason); `CANONICAL_SCHEMA`, a pandera
schema built from the same rules plus types and uniqueness, is the declared contract of the kept frame and
is checked on it, so a gap between the rules and the contract fails loudly instead of letting a bad row through.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from radimpress.config import CANONICAL_COLUMNS
from radimpress.errors import InputDataError

TEXT_FIELDS = ("findings", "impression", "clinical_information")
CONTENT_COLUMNS = tuple(c for c in CANONICAL_COLUMNS if c != "report_id")
_CONTROL = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"
# A cell a spreadsheet would run as a formula (=CMD(...), @SUM(...), +HYPERLINK(...)): never train on or show it.
_FORMULA = r"^\s*[=@]|^\s*[+\-]\s*[A-Z][A-Z0-9_.]*\("


@dataclass(frozen=True)
class Rule:
    reason: str
    meaning: str
    breaks: pl.Expr  # true for a row that breaks the rule
    detail: pl.Expr  # what the rule saw in a row that breaks it, for the quarantine's `detail`


# What spreadsheets and databases write for "no value": a section holding only this is missing, not text.
_NULL_TOKEN = r"(?i)^\s*(#n/a|#value!|#ref!|#div/0!|#name\?|#null!|n/?a|null|none|nan|nil|-+|\.+)\s*$"
_SHOWN_CHARS = 60  # how much of a field a detail quotes
_CONTROL_NAMES = {chr(code): f"U+{code:04X}" for code in [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]}


def _blank(column: str) -> pl.Expr:
    return pl.col(column).is_null() | pl.col(column).str.strip_chars().eq("") | pl.col(column).str.contains(_NULL_TOKEN)


def _any(columns: tuple[str, ...], predicate) -> pl.Expr:
    return pl.any_horizontal(predicate(pl.col(c)).fill_null(False) for c in columns)


def _quoted(text: pl.Expr) -> pl.Expr:
    """`text` in quotes, cut to its first characters, its line breaks shown as spaces."""
    shown = text.str.replace_all(r"\s+", " ").str.strip_chars()
    cut = pl.when(shown.str.len_chars() > _SHOWN_CHARS).then(shown.str.head(_SHOWN_CHARS) + "...").otherwise(shown)
    return pl.lit('"') + cut + pl.lit('"')


def _first_broken(columns: tuple[str, ...], predicate, describe) -> pl.Expr:
    """`describe(column)` for the first of `columns` whose value breaks `predicate`."""
    detail = pl.lit(None, dtype=pl.String)
    for column in reversed(columns):
        detail = pl.when(predicate(pl.col(column)).fill_null(False)).then(describe(column)).otherwise(detail)
    return detail


def _thousands(number: pl.Expr) -> pl.Expr:
    """An integer written with thousands separators, 25310 -> "25,310" (polars has no number format)."""
    grouped = number.cast(pl.String).str.reverse().str.replace_all(r"(\d{3})", "$1,").str.reverse()
    return grouped.str.strip_prefix(",")


def _blank_detail(column: str) -> pl.Expr:
    """What a blank field held, and for free text the headings that were found instead."""
    value = (
        pl.when(pl.col(column).is_null())
        .then(pl.lit(f"no {column}"))
        .otherwise(pl.lit(f"{column} is ") + _quoted(pl.col(column)))
    )
    found = pl.lit("; headings found: ") + pl.col("_headings")
    return pl.concat_str(value, found, ignore_nulls=True)


def _not_text_detail(column: str) -> pl.Expr:
    control = pl.col(column).str.extract(f"({_CONTROL})", 1).replace_strict(_CONTROL_NAMES, default="?")
    has_control = pl.col(column).str.contains(_CONTROL)
    return (
        pl.when(has_control)
        .then(pl.lit(f"{column} holds control character ") + control)
        .otherwise(pl.lit(f"{column} has no letters: ") + _quoted(pl.col(column)))
    )


def _normalised(text: pl.Expr) -> pl.Expr:
    return text.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars().fill_null("")


def _non_latin_share(column: str) -> pl.Expr:
    """The share of the characters that are letters of another script (Cyrillic, CJK, Arabic, ...).

    Counting only the rare non-Latin letters (not every letter) keeps this cheap on millions of reports.
    """
    return pl.col(column).str.count_matches(r"[\p{L}&&\P{Latin}]") / pl.col(column).str.len_chars()


def _mostly_non_latin(column: str) -> pl.Expr:
    """More than a third of the characters are letters of another script."""
    return (_non_latin_share(column) > 1 / 3).fill_null(False)


def _non_latin_detail(column: str) -> pl.Expr:
    percent = (_non_latin_share(column) * 100).round(0).cast(pl.Int64).cast(pl.String)
    return pl.lit(f"{column}: ") + percent + pl.lit("% letters of a non-Latin script")


def _same_text(a: str, b: str) -> pl.Expr:
    """`a` and `b` equal up to case, spacing and punctuation. Texts of clearly different length are cut to ""
    first, so the costly normalisation runs on a handful of rows, not on every findings text."""
    length_a, length_b = pl.col(a).str.len_chars(), pl.col(b).str.len_chars()
    similar = ((length_a - length_b).abs() <= (length_a + length_b) // 4 + 8).fill_null(False)
    keep = pl.when(similar).then(pl.max_horizontal(length_a, length_b)).otherwise(0)
    same = _normalised(pl.col(a).str.head(keep)) == _normalised(pl.col(b).str.head(keep))
    return same & similar


def content_rules(max_section_chars: int) -> list[Rule]:
    """Rules about one row on its own, in the order their reasons are given."""

    def not_text(column: pl.Expr) -> pl.Expr:
        return ~column.str.contains(r"\p{L}") | column.str.contains(_CONTROL)

    def too_long(column: pl.Expr) -> pl.Expr:
        return column.str.len_chars() > max_section_chars

    def length_detail(column: str) -> pl.Expr:
        return pl.lit(f"{column} ") + _thousands(pl.col(column).str.len_chars()) + f" chars > {max_section_chars:,}"

    return [
        Rule("no_report_id", "the report id is missing", _blank("report_id"), _blank_detail("report_id")),
        Rule(
            "no_sections",
            "free text with no recognisable section heading",
            pl.col("_no_sections").fill_null(False),
            pl.lit("no section heading in ") + _quoted(pl.col("_text_head")),
        ),
        Rule("no_findings", "no FINDINGS text", _blank("findings"), _blank_detail("findings")),
        Rule("no_impression", "no IMPRESSION text", _blank("impression"), _blank_detail("impression")),
        Rule(
            "not_text",
            "findings or impression with no letters (a number, a code) or with control characters such as NUL",
            _any(("findings", "impression"), not_text),
            _first_broken(("findings", "impression"), not_text, _not_text_detail),
        ),
        Rule(
            "spreadsheet_formula",
            "a field a spreadsheet would run as a formula (=..., @..., +CMD(...))",
            _any(("exam", *TEXT_FIELDS), lambda c: c.str.contains(_FORMULA)),
            _first_broken(
                ("exam", *TEXT_FIELDS),
                lambda c: c.str.contains(_FORMULA),
                lambda c: pl.lit(f"{c} reads as a formula: ") + _quoted(pl.col(c)),
            ),
        ),
        Rule(
            "non_english",
            "findings or impression more than a third letters of a non-Latin script",
            _mostly_non_latin("findings") | _mostly_non_latin("impression"),
            pl.when(_mostly_non_latin("findings"))
            .then(_non_latin_detail("findings"))
            .otherwise(_non_latin_detail("impression")),
        ),
        Rule(
            "over_length",
            f"a findings, impression or clinical information section over {max_section_chars} characters",
            _any(TEXT_FIELDS, too_long),
            _first_broken(TEXT_FIELDS, too_long, length_detail),
        ),
        Rule(
            "impression_equals_findings",
            "the impression repeats the findings word for word (nothing to learn)",
            _same_text("findings", "impression"),
            pl.lit("impression repeats the findings: ") + _quoted(pl.col("impression")),
        ),
    ]


def duplicate_rules(row_numbered_ids: bool) -> list[Rule]:
    """Rules across rows, judged among the rows that pass every content rule (the first copy is kept)."""
    # Row numbers as ids make every row unique: then a repeat is judged on the text alone.
    content = list(CONTENT_COLUMNS if row_numbered_ids else CANONICAL_COLUMNS)
    first_copy = pl.col("source_row").min().over(content).cast(pl.String)
    rows_of_id = pl.col("source_row").sort().cast(pl.String).str.join(", ").over("report_id")
    return [
        Rule(
            "duplicate_report",
            "a repeat of an earlier row, word for word",
            ~pl.struct(*content).is_first_distinct(),
            pl.lit("repeats source_row ") + first_copy,
        ),
        Rule(
            "duplicate_id",
            "a report id given to reports with different text (none is trusted)",
            pl.struct(*CANONICAL_COLUMNS).n_unique().over("report_id") > 1,
            pl.lit("report_id ")
            + _quoted(pl.col("report_id"))
            + " names different reports on source_rows "
            + rows_of_id,
        ),
    ]


def _first_reason(rules: list[Rule]) -> list[pl.Expr]:
    """The reason and detail of the first rule a row breaks (null for none)."""
    reason, detail = pl.lit(None, dtype=pl.String), pl.lit(None, dtype=pl.String)
    for rule in reversed(rules):
        reason = pl.when(rule.breaks).then(pl.lit(rule.reason)).otherwise(reason)
        detail = pl.when(rule.breaks).then(rule.detail).otherwise(detail)
    return [reason.alias("reason"), detail.alias("detail")]


def tag_reasons(reports: pl.DataFrame, max_section_chars: int) -> pl.DataFrame:
    """`reports` with `reason` (the first rule each row breaks, null for a usable row) and `detail` (what that
    rule saw) columns.

    Duplicates are judged among rows that pass every content rule, so an unusable copy never
    disqualifies a usable one. Details are worked out on the broken rows only: they are few, and quoting text
    costs more than testing it.
    """
    rules = content_rules(max_section_chars)
    reason = _first_reason(rules)[0]
    tagged = reports.with_columns(reason)
    broken = tagged.filter(pl.col("reason").is_not_null()).with_columns(_detail_of_reason(rules))
    usable = tagged.filter(pl.col("reason").is_null())
    usable = usable.with_columns(_first_reason(duplicate_rules(_row_numbered(usable))))
    return pl.concat([broken, usable]).sort("source_row")


def _detail_of_reason(rules: list[Rule]) -> pl.Expr:
    detail = pl.lit(None, dtype=pl.String)
    for rule in rules:
        detail = pl.when(pl.col("reason") == rule.reason).then(rule.detail).otherwise(detail)
    return detail.alias("detail")


def _row_numbered(reports: pl.DataFrame) -> bool:
    return "_row_numbered_id" in reports.columns and bool(reports["_row_numbered_id"].fill_null(False).any())


def canonical_schema(max_section_chars: int = 20_000) -> pa.DataFrameSchema:
    """The contract of a kept report frame: text columns, unique ids, and no rule broken."""
    required = {"report_id", "findings", "impression"}
    columns = {
        name: pa.Column(
            pl.String,
            nullable=name not in required,
            unique=name == "report_id",
            checks=[pa.Check.str_length(1, max_section_chars)] if name in ("findings", "impression") else None,
        )
        for name in CANONICAL_COLUMNS
    }
    checks = [
        pa.Check(_holds(rule.breaks), name=rule.reason, error=rule.meaning)
        for rule in content_rules(max_section_chars)
        if rule.reason != "no_sections"
    ]
    return pa.DataFrameSchema(columns, checks=checks, strict=False)


def _holds(breaks: pl.Expr):
    def check(data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((~breaks).alias("ok"))

    return check


def check_kept(reports: pl.DataFrame, max_section_chars: int) -> pl.DataFrame:
    """Validate the kept frame against the schema.

    Raises:
        InputDataError: a kept row breaks the contract (a bug in the rules, never the user's data).
    """
    try:
        return canonical_schema(max_section_chars).validate(reports, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.select("column", "check").unique().rows()
        raise InputDataError(f"kept reports break the canonical schema: {cases[:3]}") from None
