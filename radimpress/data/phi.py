"""Guard report text against protected health information (PHI): count it per column, and redact it.

Six categories are caught by regex: e-mail addresses, phone and fax numbers, calendar dates, medical record and
accession numbers (labelled, or any bare 7-10 digit number), names written after a title (Dr., Mrs., ...), and
ages over 89 (HIPAA Safe Harbor). De-identification placeholders already in the text (the IU X-ray `XXXX`,
`[REDACTED]`, `***`, `<NAME>`, the tags `redact` writes) are never PHI; they are counted on their own.

What regex cannot catch: names without a title ("seen by Smith"), free-form addresses, hospital and place names,
ages written in words, dates without a year ("Jan 5"), unlabelled ids shorter than 7 or longer than 10 digits.
A zero count is a screen, not a proof of de-identification.

Patterns use the Rust `regex` syntax polars runs: no lookaround, no backreferences. Where a pattern needs
context to be sure (a label, a title, "year-old"), it captures that context in the groups `pre` and `post`,
which redaction keeps: "MRN: 1234567" becomes "MRN: [ID]", "Dr. Smith" becomes "Dr. [NAME]".
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import polars as pl

# ASCII mode: Unicode \b, \d and \s make the regex engine drop its DFA on any non-ASCII text ("3 × 4 mm", "°"),
# 15-20x slower. Only `titled_name` keeps Unicode, for accented names; its title literals keep it fast anyway.
_ASCII = "(?-u)"
_MONTH = (
    r"\b(?i:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?"
    r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
# A 19xx/20xx year keeps "May 1000 units" and bare counts out; bare years alone are not dates.
_YEAR = r"(?:19|20)\d{2}\b"
# 90-129: Safe Harbor only protects ages over 89.
_AGE = r"(?:9\d|1[0-2]\d)"
# Mixed-case titles may drop the period; all-caps ones need it, since "DR" and "MR" are modalities and "MS" a disease.
_TITLE = r"\b(?:Dr|Mr|Mrs|Ms|Prof)\b\.?|\b(?:DR|MR|MRS|MS|PROF)\.|\b(?:Miss|Doctor|DOCTOR)\b"
# A capitalised word (O'Brien, McLean, Smith-Jones, Müller), an initial, or an all-caps word not only of X (IU's
# placeholder).
_NAME = r"(?:(?:\p{Lu}'|Mc|Mac)?\p{Lu}\p{Ll}+(?:-\p{Lu}\p{Ll}+)?\b|[\p{Lu}--X]\.|\p{Lu}*[\p{Lu}--X]\p{Lu}*\b)"

PHI_PATTERNS: dict[str, str] = {
    "email": _ASCII + r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
    "phone": _ASCII
    + "|".join(
        [
            r"(?:\+?\b1[-. ]?)?(?:\(\d{3}\)|\b\d{3})[-. ]?\d{3}[-. ]\d{4}\b",  # (555) 123-4567, 555.123.4567
            r"\+\d{1,3}(?:[-. ]?\(\d{1,4}\))?(?:[-. ]?\d{2,8}){2,5}",  # +44 20 7946 0958
            # An unformatted number is only a phone when labelled; unlabelled, it is left to `mrn`.
            r"(?P<pre>(?i:\b(?:fax|tel|telephone|phone|ph|pager|cell)\b)[\s.:#]*)(?:\d{3}[-. ]?\d{4}|\d{8,15})\b",
        ]
    ),
    "date": _ASCII
    + "|".join(
        [
            r"\b\d{1,2}/\d{1,2}/(?:\d{4}|\d{2})\b",  # 01/02/2020, 1/2/20; "3/4" has no third part
            r"\b\d{1,2}\.\d{1,2}\.(?:\d{4}|\d{2})\b",
            r"\b\d{1,2}-\d{1,2}-(?:\d{4}|\d{2})\b",
            r"\b(?:19|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2}",  # ISO, also as the head of a timestamp
            rf"\b(?:0?[1-9]|1[0-2])/{_YEAR}",  # 12/2019
            rf"{_MONTH}\s+{_DAY},?\s+{_YEAR}",  # Jan 5, 2020
            rf"\b{_DAY}\s+{_MONTH},?\s+{_YEAR}",  # 5 January 2020
            rf"{_MONTH},?\s+{_YEAR}",  # January 2020
        ]
    ),
    "mrn": (
        _ASCII + r"(?P<pre>(?i:\b(?:mrn|medical\s+record(?:\s+(?:number|no))?|acc(?:ession)?(?:\s+(?:number|no))?"
        r"|patient\s+id)\b)[\s.:#]*)[A-Z]{0,2}\d{4,12}\b|\b\d{7,10}\b"
    ),
    "titled_name": rf"(?P<pre>(?:{_TITLE})[ \t]*){_NAME}(?:[ \t]+{_NAME}){{0,2}}",
    "age_over_89": (
        _ASCII + rf"(?P<pre>(?i:\bage[ds]?(?:\s+of)?\b)[\s:]*){_AGE}\b"
        rf"|\b{_AGE}(?P<post>(?i:[\s-]*(?:years?|yrs?)[\s-]*old\b|\s*y/?o\b|\s*y\.o\.?))"
    ),
}

REDACTION_TAGS: dict[str, str] = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "date": "[DATE]",
    "mrn": "[ID]",
    "titled_name": "[NAME]",
    "age_over_89": "[AGE>89]",
}

# IU X-ray `XXXX`, `***`, `<NAME>`, and bracketed caps tags: `[REDACTED]`, `[DATE]` and every tag above.
PLACEHOLDER_PATTERN = _ASCII + r"\bX{2,}\b|\*{3,}|\[[A-Z][A-Z0-9_>]+\]|<[A-Z][A-Z_]+>"

CATEGORIES: tuple[str, ...] = (*PHI_PATTERNS, "placeholder")

COUNTS_SCHEMA = {"column": pl.String, "category": pl.String, "reports": pl.Int64, "matches": pl.Int64}


def _redact_category(text: pl.Expr, category: str) -> pl.Expr:
    """`text` with one category's matches replaced by its tag, keeping the `pre`/`post` context groups."""
    return text.str.replace_all(PHI_PATTERNS[category], "${pre}" + REDACTION_TAGS[category] + "${post}")


def redact_expr(text: pl.Expr) -> pl.Expr:
    """Replace every PHI match in `text` with its category tag, e.g. "Dr. [NAME]", "[DATE]"; null stays null.

    Categories are redacted in `PHI_PATTERNS` order, so an e-mail is tagged before its digits could look like an id.
    """
    for category in PHI_PATTERNS:
        text = _redact_category(text, category)
    return text


def redact(text: str | None) -> str | None:
    """`redact_expr` applied to one string."""
    return pl.select(redact_expr(pl.lit(text, dtype=pl.String))).item()


def _text_and_redacted(column: str) -> pl.Expr:
    """`column` as a struct of its `text` and `redacted` text; cast, since an all-null column may have no dtype."""
    text = pl.col(column).cast(pl.String)
    return pl.struct(text=text, redacted=redact_expr(text)).alias(column)


def _match_counts(column: str) -> dict[str, pl.Expr]:
    """Matches per row and category in `column`, a struct of `text` and its `redacted` form; null for a null report.

    PHI is counted as the tags redaction added, not as raw pattern matches, so each match has one category (a labelled
    fax number is a phone, not also a bare id), as `redact` sees it. Tags already in `text` are not new.
    """
    text, redacted = pl.col(column).struct.field("text"), pl.col(column).struct.field("redacted")
    counts = {
        category: redacted.str.count_matches(tag, literal=True) - text.str.count_matches(tag, literal=True)
        for category, tag in REDACTION_TAGS.items()
    }
    counts["placeholder"] = text.str.count_matches(PLACEHOLDER_PATTERN)
    return counts


def _count_row(column: str, category: str, matches: pl.Expr) -> pl.Expr:
    """One row of `phi_counts` as a struct: reports with a match, and all matches; sums skip null reports."""
    return pl.struct(
        column=pl.lit(column),
        category=pl.lit(category),
        reports=(matches > 0).sum().cast(pl.Int64),
        matches=matches.sum().cast(pl.Int64),
    )


def phi_counts(frame: pl.DataFrame | pl.LazyFrame, columns: Sequence[str]) -> pl.DataFrame:
    """PHI and placeholder counts per text column, in one lazy query over `frame`.

    Args:
        frame: reports, eager or lazy.
        columns: text columns to check; those missing from `frame` are skipped.

    Returns:
        One row per (column, category), zeros included, in `columns` then `CATEGORIES` order: `reports` with at
        least one match and total `matches`.
    """
    lazy = frame.lazy()
    present = [column for column in dict.fromkeys(columns) if column in lazy.collect_schema().names()]
    if not present:
        return pl.DataFrame(schema=COUNTS_SCHEMA)
    # Redact each column once, up front: left to common-subexpression elimination, the streaming engine
    # redacted it again for every category (5x slower).
    texts = lazy.select(_text_and_redacted(column) for column in present)
    rows = [_count_row(column, category, n) for column in present for category, n in _match_counts(column).items()]
    # The aggregates form one row; a list of row structs, exploded, makes it the long table.
    return texts.select(pl.concat_list(rows).alias("row")).explode("row").unnest("row").collect()


def phi_summary(counts: pl.DataFrame) -> dict[str, int]:
    """Reports with a match per category, summed over columns, as metrics: {"phi.date": 3, ...}."""
    totals = counts.group_by("category", maintain_order=True).agg(pl.col("reports").sum())
    return {f"phi.{category}": int(reports) for category, reports in totals.iter_rows()}


def redact_frame(frame: pl.DataFrame, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """`frame` with every String column (or those named) redacted: what may leave the machine as an artifact."""
    names = [c for c, dtype in frame.schema.items() if dtype == pl.String] if columns is None else columns
    return frame.with_columns(redact_expr(pl.col(c)).alias(c) for c in names if c in frame.columns)


ID_COLUMNS = ("report_id", "patient_id", "study_id")


def pseudonymise_ids(frame: pl.DataFrame, salt: str, columns: Sequence[str] = ID_COLUMNS) -> pl.DataFrame:
    """Accession, patient and study numbers replaced by salted hashes ("id-3f9a..."), equal for equal ids.

    Redaction cannot catch these (an accession number looks like any code), yet they identify the patient.
    With the salt kept on this machine the pseudonyms still join across runs and files, and cannot be reversed.
    """

    def pseudonym(value: str | None) -> str | None:
        return None if value is None else "id-" + hashlib.sha256(f"{salt}:{value}".encode()).hexdigest()[:16]

    return frame.with_columns(
        pl.Series(c, [pseudonym(v) for v in frame[c].cast(pl.String)], dtype=pl.String)
        for c in columns
        if c in frame.columns
    )
