"""Split free-text radiology reports into sections with polars expressions, one regex pass per report.

Rules:
- Headings are the synonyms in `HEADING_SYNONYMS`, each mapped to one canonical section; the longest synonym wins,
  so "CLINICAL HISTORY:" is not read as "HISTORY:" and "REASON FOR EXAM:" is not read as "EXAM:".
- At the start of a line (after spaces, numbering such as "1.", "2)", "II.", "A)", and markdown "#" or "**") a
  heading in any case counts when followed by ":", " -" or a dash ("—", "–"), with or without text after it on the
  same line, or when it stands alone on its line.
- In the middle of a line a heading counts only in UPPER CASE followed by ":", as in exports that flattened
  newlines ("FINDINGS: Lungs clear. IMPRESSION: Normal chest.").
- So a sentence that starts with a synonym word ("Findings are stable.", "History of smoking.") is not a heading.
- CRLF and lone CR are newlines. A section runs to the next heading, keeps its inner line breaks and is stripped;
  an empty section is null. A section that appears more than once has its parts joined with "\\n" in order.
  Text before the first heading is the `preamble`.

Limits: a mid-line upper-case phrase ending in a synonym and a colon ("PAST MEDICAL HISTORY:") reads as a heading;
a mixed-case heading inside a line ("... Impression: normal.") stays text; sign-offs stay in the last section.

How: every heading is replaced by "\\x1e<synonym as written>\\x1f" in one `str.replace_all`, then each canonical
section collects the marked chunks whose synonym belongs to it.
"""

from __future__ import annotations

import polars as pl

HEADING_SYNONYMS: dict[str, tuple[str, ...]] = {
    "findings": ("FINDINGS", "FINDING", "REPORT", "INTERPRETATION"),
    "impression": ("IMPRESSION", "IMPRESSIONS", "CONCLUSION", "CONCLUSIONS", "OPINION", "SUMMARY"),
    "clinical_information": (
        "CLINICAL INFORMATION",
        "CLINICAL HISTORY",
        "CLINICAL INDICATION",
        "CLINICAL DETAILS",
        "HISTORY",
        "INDICATION",
        "INDICATIONS",
        "REASON FOR EXAM",
        "REASON FOR EXAMINATION",
        "REASON FOR STUDY",
    ),
    "comparison": ("COMPARISON", "COMPARISONS"),
    "technique": ("TECHNIQUE", "PROCEDURE"),
    "exam": ("EXAM", "EXAMINATION", "STUDY", "TYPE OF EXAM"),
}

SECTION_FIELDS = ("exam", "clinical_information", "comparison", "technique", "findings", "impression", "preamble")

# ASCII record and unit separators: never in report prose, so they can mark headings unambiguously.
_START, _END = "\x1e", "\x1f"


def _alternation(synonyms: tuple[str, ...] | list[str]) -> str:
    """Regex alternation of `synonyms`, longest first, tolerating runs of spaces between words."""
    return "|".join(name.replace(" ", r"[ \t]+") for name in sorted(synonyms, key=len, reverse=True))


_ANY_HEADING = _alternation([name for names in HEADING_SYNONYMS.values() for name in names])
_NUMBERING = r"(?:\(?(?:\d{1,2}|[ivx]{1,4}|[a-z])[.)][ \t]*)?"
# ":" or " -" or a dash, with text after it or not; or nothing more on the line.
_SEPARATOR = r"[ \t]*(?:\*\*)?(?:[ \t]*:|[ \t]+-|[ \t]*[—–]|[ \t]*$)(?:\*\*)?"
_LINE_START_HEADING = rf"(?im:^[ \t]*{_NUMBERING}(?:#{{1,6}}|\*\*)?[ \t]*(?P<line>{_ANY_HEADING}){_SEPARATOR})"
# Case-sensitive on purpose: mid-line, only an upper-case word with a colon is a heading, not a word in a sentence.
_INLINE_HEADING = rf"\b(?P<inline>{_ANY_HEADING})[ \t]*:"
_HEADING = f"{_LINE_START_HEADING}|{_INLINE_HEADING}"


def _mark_headings(text: pl.Expr) -> pl.Expr:
    """`text` with newlines normalised and each heading replaced by a start marker, its synonym and an end marker."""
    normalised = text.str.replace_all(f"[{_START}{_END}]", "").str.replace_all(r"\r\n?", "\n")
    return normalised.str.replace_all(_HEADING, f"{_START}${{line}}${{inline}}{_END}")


def _section(marked: pl.Expr, synonyms: tuple[str, ...]) -> pl.Expr:
    """Chunks of `marked` headed by one of `synonyms`, stripped and joined with newlines; null when none has text."""
    # Only chunks with some non-space text match, so empty repeats add no blank lines.
    chunks = marked.str.extract_all(rf"(?i){_START}(?:{_alternation(synonyms)}){_END}\s*[^{_START}\s][^{_START}]*")
    # Joined first, then each marker and the spaces around it become one newline: plain string ops, no `list.eval`.
    joined = chunks.list.join("").str.replace_all(rf"\s*{_START}[^{_END}]*{_END}\s*", "\n")
    return joined.str.strip_chars().replace("", None)


def _preamble(marked: pl.Expr) -> pl.Expr:
    return marked.str.extract(rf"\A([^{_START}]*)", 1).str.strip_chars().replace("", None)


def split_sections_expr(text: pl.Expr) -> pl.Expr:
    """Split report text into its sections.

    Args:
        text: String expression holding whole reports.

    Returns:
        Struct expression with one String field per `SECTION_FIELDS` entry, in that order, null where the section is
        absent or empty; all fields are null for null text.
    """
    # The struct starts with the marked text in its first field and every section is computed from that field, which
    # is then overwritten: eager polars has no common-subexpression elimination, and would otherwise mark each report
    # once per section.
    marked = pl.field(SECTION_FIELDS[0])
    sections = {field: _section(marked, synonyms) for field, synonyms in HEADING_SYNONYMS.items()}
    sections["preamble"] = _preamble(marked)
    marked_struct = pl.struct(_mark_headings(text).alias(SECTION_FIELDS[0]))
    return marked_struct.struct.with_fields(**{field: sections[field] for field in SECTION_FIELDS})


def split_sections(text: str | None) -> dict[str, str | None]:
    """`split_sections_expr` for one report: section name -> text or None."""
    return pl.select(split_sections_expr(pl.lit(text, dtype=pl.String))).item()


def has_sections(text: pl.Expr) -> pl.Expr:
    """Whether `text` has at least one recognisable heading; false for null text."""
    return _mark_headings(text).str.contains(_START, literal=True).fill_null(False)
