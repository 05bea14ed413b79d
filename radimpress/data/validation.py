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


# What spreadsheets and databases write for "no value": a section holding only this is missing, not text.
_NULL_TOKEN = r"(?i)^\s*(#n/a|#value!|#ref!|#div/0!|#name\?|#null!|n/?a|null|none|nan|nil|-+|\.+)\s*$"


def _blank(column: str) -> pl.Expr:
    return pl.col(column).is_null() | pl.col(column).str.strip_chars().eq("") | pl.col(column).str.contains(_NULL_TOKEN)


def _any(columns: tuple[str, ...], predicate) -> pl.Expr:
    return pl.any_horizontal(predicate(pl.col(c)).fill_null(False) for c in columns)


def _normalised(text: pl.Expr) -> pl.Expr:
    return text.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars().fill_null("")


def _mostly_non_latin(column: str) -> pl.Expr:
    """More than a third of the characters are letters of another script (Cyrillic, CJK, Arabic, ...).

    Counting only the rare non-Latin letters (not every letter) keeps this cheap on millions of reports.
    """
    other_script = pl.col(column).str.count_matches(r"[\p{L}&&\P{Latin}]")
    return (other_script * 3 > pl.col(column).str.len_chars()).fill_null(False)


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
    return [
        Rule("no_report_id", "the report id is missing", _blank("report_id")),
        Rule("no_sections", "free text with no recognisable section heading", pl.col("_no_sections").fill_null(False)),
        Rule("no_findings", "no FINDINGS text", _blank("findings")),
        Rule("no_impression", "no IMPRESSION text", _blank("impression")),
        Rule(
            "not_text",
            "findings or impression with no letters (a number, a code) or with control characters such as NUL",
            _any(("findings", "impression"), lambda c: ~c.str.contains(r"\p{L}") | c.str.contains(_CONTROL)),
        ),
        Rule(
            "spreadsheet_formula",
            "a field a spreadsheet would run as a formula (=..., @..., +CMD(...))",
            _any(("exam", *TEXT_FIELDS), lambda c: c.str.contains(_FORMULA)),
        ),
        Rule(
            "non_english",
            "findings or impression more than a third letters of a non-Latin script",
            _mostly_non_latin("findings") | _mostly_non_latin("impression"),
        ),
        Rule(
            "over_length",
            f"a findings, impression or clinical information section over {max_section_chars} characters",
            _any(TEXT_FIELDS, lambda c: c.str.len_chars() > max_section_chars),
        ),
        Rule(
            "impression_equals_findings",
            "the impression repeats the findings word for word (nothing to learn)",
            _same_text("findings", "impression"),
        ),
    ]


def tag_reasons(reports: pl.DataFrame, max_section_chars: int) -> pl.DataFrame:
    """`reports` with a `reason` column: the first rule each row breaks, null for a usable row.

    Duplicates are judged among rows that pass every content rule, so an unusable copy never
    disqualifies a usable one.
    """
    reason = pl.lit(None, dtype=pl.String)
    for rule in reversed(content_rules(max_section_chars)):
        reason = pl.when(rule.breaks).then(pl.lit(rule.reason)).otherwise(reason)
    tagged = reports.with_columns(reason.alias("reason"))
    usable = tagged.filter(pl.col("reason").is_null())
    usable = usable.with_columns(_duplicate_reason().alias("reason"))
    return pl.concat([tagged.filter(pl.col("reason").is_not_null()), usable]).sort("source_row")


def _duplicate_reason() -> pl.Expr:
    content = pl.struct(*CANONICAL_COLUMNS)
    # Row numbers as ids make every row unique: then a repeat is judged on the text alone.
    repeat = (
        pl.when(pl.col("_row_numbered_id").fill_null(False).any())
        .then(~pl.struct(*CONTENT_COLUMNS).is_first_distinct())
        .otherwise(~content.is_first_distinct())
    )
    conflicting = content.n_unique().over("report_id") > 1
    return (
        pl.when(repeat)
        .then(pl.lit("duplicate_report"))
        .when(conflicting)
        .then(pl.lit("duplicate_id"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


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
