"""Split free-text radiology reports into sections with polars expressions, one marking regex pass per report.

Kept sections: `exam`, `clinical_information`, `findings` and `impression`. Every other character of a report goes,
labelled by where it came from, to `other_sections` ("PREAMBLE: ...\\nComparison: ...\\nPLAN: ...\\nSIGN-OFF: ..."),
so nothing is dropped unseen; `other_sections_amounts` counts it per reason (`OTHER_REASONS`).

Headings:
- Headings are the synonyms in `HEADING_SYNONYMS`, each mapped to one section; the longest synonym wins, so
  "CLINICAL HISTORY:" is not read as "HISTORY:", "REASON FOR EXAM:" not as "EXAM:", "COMPARISON EXAM:" not as "EXAM:".
- At the start of a line (after spaces, numbering such as "1.", "2)", "II.", "A)", and markdown "#" or "**") a
  heading in any case counts when followed by ":", " -" or a dash ("—", "–"), with or without text after it on the
  same line, or when it stands alone on its line.
- In the middle of a line a heading counts only in UPPER CASE followed by ":", as in exports that flattened
  newlines ("FINDINGS: Lungs clear. IMPRESSION: Normal chest.").
- So a sentence that starts with a synonym word ("Findings are stable.", "History of smoking.") is not a heading.
- Compound headings join synonyms with "AND", "&" or "/" ("TECHNIQUE AND FINDINGS:", "FINDINGS/IMPRESSION:"). Their
  text goes to the part that comes first in `HEADING_SYNONYMS` (findings, impression, SUMMARY/INTERPRETATION, clinical
  information, exam, technique, comparison, then the after-impression headings): a model needs findings most and an
  impression next, so a combined "FINDINGS AND IMPRESSION" text feeds the findings (its report then has no separate
  impression and is quarantined for it) and "IMPRESSION AND RECOMMENDATIONS" stays the impression.
- A mid-line COMPARISON heading ("FINDINGS: COMPARISON: None. The liver is normal.") takes only its own sentence, up
  to a ".", "!" or "?" followed by a space or the line end; the rest goes back to the section it interrupted.
- SUMMARY and INTERPRETATION mean the description in some reports (an EEG's "SUMMARY:" of the recording) and the
  conclusion in others. Rule: in a report with an IMPRESSION, CONCLUSION or OPINION heading they describe (findings);
  otherwise the last of them is the conclusion (impression) and any earlier one describes. So "SUMMARY: ...
  INTERPRETATION: abnormal EEG" reads the interpretation as the impression, "FINDINGS: ... SUMMARY: ..." the summary.
- PLAN, RECOMMENDATION(S), FOLLOW-UP, ADDENDUM and NOTE headings start sections that are not the impression (they
  usually follow it; an addendum is written later and a plan is not readable from the findings): `after_impression`.
- Sign-off paragraphs without a heading ("Electronically signed by ...", "Dictated by ...", "Transcribed by ...",
  "I have personally reviewed the images ...", "Thank you for this referral") start, at a line start or after a
  sentence end, a `signoff` part that runs to the next heading: boilerplate stays out of the training target.

Text before the first heading: its first non-empty line is the exam title ("MRI LEFT KNEE WITHOUT CONTRAST") when it
reads like one (at most 120 characters and 15 words, no sentence break inside, no verb such as "is", "are",
"shows"); the title is the `exam` when no EXAM heading gives one. The rest of that text is the `preamble`.

CRLF and lone CR are newlines. A section runs to the next heading, keeps its inner line breaks and is stripped;
an empty section is null. A section that appears more than once has its parts joined with "\\n" in order.

Limits: a mid-line upper-case phrase ending in a synonym and a colon ("PAST MEDICAL HISTORY:") reads as a heading;
a mixed-case heading inside a line ("... Impression: normal.") stays text; a NOTE heading inside the findings takes
the rest of the findings with it (into other_sections, counted); text after a sign-off line and before the next
heading is read as sign-off; a mid-line comparison sentence ends early at an abbreviation ("Dr. Smith"); a title
on two lines keeps its second line in the preamble. In other_sections a line starting with a label ("PREAMBLE:",
"SIGN-OFF:", a heading synonym and ":") starts a part: no other line can, since such a line is itself a heading.

How: every heading is replaced by "\\x1e<heading as written>\\x1f" in one `str.replace_all`, then each section
collects the marked chunks whose heading belongs to it.
"""

from __future__ import annotations

import polars as pl

# In priority order for compound headings (see the module docstring).
HEADING_SYNONYMS: dict[str, tuple[str, ...]] = {
    "findings": ("FINDINGS", "FINDING", "REPORT"),
    "impression": ("IMPRESSION", "IMPRESSIONS", "CONCLUSION", "CONCLUSIONS", "OPINION"),
    "summary_or_interpretation": ("SUMMARY", "INTERPRETATION"),  # findings or impression, by the rule above
    "clinical_information": (
        "CLINICAL",
        "CLINICAL DATA",
        "CLINICAL DETAILS",
        "CLINICAL HISTORY",
        "CLINICAL INDICATION",
        "CLINICAL INDICATIONS",
        "CLINICAL INFORMATION",
        "CLINICAL NOTES",
        "CLINICAL QUESTION",
        "HISTORY",
        "INDICATION",
        "INDICATIONS",
        "INDICATION FOR EXAM",
        "INDICATION FOR STUDY",
        "REASON FOR EXAM",
        "REASON FOR EXAMINATION",
        "REASON FOR REFERRAL",
        "REASON FOR STUDY",
    ),
    # "PROCEDURE: CT CHEST WITH CONTRAST" names the exam in transcribed reports, as it does in RIS exports.
    "exam": ("EXAM", "EXAMINATION", "STUDY", "TYPE OF EXAM", "PROCEDURE"),
    "technique": ("TECHNIQUE", "PROTOCOL"),
    "comparison": (
        "COMPARISON",
        "COMPARISONS",
        "COMPARISON EXAM",
        "COMPARISON EXAMS",
        "COMPARISON EXAMINATION",
        "COMPARISON STUDY",
        "COMPARISON STUDIES",
        "COMPARISON FILMS",
    ),
    "after_impression": (
        "PLAN",
        "RECOMMENDATION",
        "RECOMMENDATIONS",
        "FOLLOW-UP",
        "FOLLOW UP",
        "ADDENDUM",
        "NOTE",
    ),
}
KEPT_SECTIONS = ("exam", "clinical_information", "findings", "impression")
SECTION_FIELDS = (*KEPT_SECTIONS, "other_sections")
# Why a piece of text is in other_sections; counted per reason by `other_sections_amounts`.
OTHER_REASONS = ("preamble", "comparison", "technique", "after_impression", "signoff")
# Start of a sign-off paragraph, matched in any case.
SIGNOFF_PHRASES = (
    "electronically signed",
    "signed electronically",
    "electronically verified",
    "dictated by",
    "dictated and signed by",
    "transcribed by",
    "i have personally reviewed",
    "i have reviewed the images",
    "thank you for (?:this|the|your) (?:kind )?referral",
    "thank you for referring",
    "report (?:electronically )?(?:signed|verified|approved) by",
)

# ASCII record and unit separators: never in report prose, so they can mark headings unambiguously. A mark of
# group separator before a SUMMARY/INTERPRETATION heading says it is the conclusion.
_START, _END, _CONCLUSION = "\x1e", "\x1f", "\x1d"
_CONTROL = f"[{_START}{_END}{_CONCLUSION}]"


def _alternation(synonyms: tuple[str, ...] | list[str]) -> str:
    """Regex alternation of `synonyms`, longest first, tolerating runs of spaces between words."""
    return "|".join(name.replace(" ", r"[ \t]+") for name in sorted(synonyms, key=len, reverse=True))


_JOIN = r"(?:[ \t]+AND[ \t]+|[ \t]*[&/][ \t]*)"
_ANY = _alternation([name for names in HEADING_SYNONYMS.values() for name in names])
_COMPOUND = f"(?:{_ANY})(?:{_JOIN}(?:{_ANY}))*"
_COMPARISON = _alternation(HEADING_SYNONYMS["comparison"])
_SIGNOFF = "|".join(SIGNOFF_PHRASES)
# One sentence: up to a ".", "!" or "?" followed by a space or the line end (a "." inside "1.2.2019" does not end it).
_SENTENCE = rf"[^\s{_START}](?:[^.!?\n{_START}]|[.!?][^\s{_START}])*[.!?]*"


def _label(section: str) -> str:
    """A heading as written that belongs to `section`: one of its synonyms, or a compound whose first-priority
    part is one of them."""
    sections = list(HEADING_SYNONYMS)
    own = _alternation(HEADING_SYNONYMS[section])
    lower = [name for later in sections[sections.index(section) + 1 :] for name in HEADING_SYNONYMS[later]]
    if not lower:
        return f"(?:{own})(?:{_JOIN}(?:{own}))*"
    lower_alt = _alternation(lower)
    return f"(?:(?:{lower_alt}){_JOIN})*(?:{own})(?:{_JOIN}(?:{lower_alt}|{own}))*"


_MIDLINE_COMPARISON_LABEL = rf"(?:{_COMPARISON})[ \t]*:"
_NUMBERING = r"(?:\(?(?:\d{1,2}|[ivx]{1,4}|[a-z])[.)][ \t]*)?"
# ":" or " -" or a dash, with text after it or not; or nothing more on the line.
_SEPARATOR = r"[ \t]*(?:\*\*)?(?:[ \t]*:|[ \t]+-|[ \t]*[—–]|[ \t]*$)(?:\*\*)?"
_LINE_START_HEADING = rf"(?im:^[ \t]*{_NUMBERING}(?:#{{1,6}}|\*\*)?[ \t]*(?P<line>{_COMPOUND}){_SEPARATOR})"
# `(?-u:\b)`: an ASCII word boundary keeps the regex engine on its fast automaton on non-ASCII text ("3 × 4 mm"),
# 1.5x faster on the whole; only a heading glued to a non-ASCII letter ("éFINDINGS:") is misread for it.
_WORD_EDGE = r"(?-u:\b)"
_SIGNOFF_START = rf"(?im:(?:^[ \t]*|(?P<stop>[.!?][ \t]+))(?P<signoff>{_SIGNOFF}){_WORD_EDGE})"
# Case-sensitive on purpose: mid-line, only an upper-case word with a colon is a heading, not a word in a sentence.
# The comparison label keeps its colon, which tells a mid-line comparison (one sentence) from a line-start one.
_MIDLINE_COMPARISON = rf"{_WORD_EDGE}(?P<comparison>{_MIDLINE_COMPARISON_LABEL})"
_INLINE_HEADING = rf"{_WORD_EDGE}(?P<inline>{_COMPOUND})[ \t]*:"
# Alternatives are tried in this order at each position: a line-start heading before a mid-line one.
_HEADING = f"{_LINE_START_HEADING}|{_SIGNOFF_START}|{_MIDLINE_COMPARISON}|{_INLINE_HEADING}"
_MARK = f"${{stop}}{_START}${{line}}${{comparison}}${{inline}}${{signoff}}{_END}${{signoff}}"
# Mid-line comparisons inside a chunk belong to the chunk they interrupt, less their own sentence.
_INTERRUPTIONS = rf"(?:{_START}(?i:{_MIDLINE_COMPARISON_LABEL}){_END}[^{_START}]*)*"
_INTERRUPTION = rf"[ \t]*{_START}(?i:{_MIDLINE_COMPARISON_LABEL}){_END}[ \t]*(?:{_SENTENCE})?[ \t]*"
_TITLE_VERB = r"(?i-u)\b(?:is|are|was|were|has|have|had|there|shows?|demonstrates?|noted|seen)\b"


def _mark_headings(text: pl.Expr) -> pl.Expr:
    """`text` with newlines normalised and each heading replaced by a start marker, its label and an end marker;
    a sign-off keeps its opening words as text after its marker."""
    normalised = text.str.replace_all(_CONTROL, "").str.replace_all(r"\r\n?", "\n")
    return normalised.str.replace_all(_HEADING, _MARK)


def _mark_conclusion(marked: pl.Expr) -> pl.Expr:
    """Without an impression heading, the last SUMMARY/INTERPRETATION heading is the conclusion: mark it so."""
    has_impression = marked.str.contains(rf"(?i){_START}(?:{_label('impression')}){_END}")
    either = _label("summary_or_interpretation")
    # Greedy `.*` puts the match at the last such heading.
    last_marked = marked.str.replace(rf"(?is)\A(.*){_START}((?:{either}){_END})", f"${{1}}{_START}{_CONCLUSION}$2")
    return pl.when(has_impression).then(marked).otherwise(last_marked)


def _chunk_texts(marked: pl.Expr, label: str) -> pl.Expr:
    """The chunks of `marked` headed by `label`, markers kept, joined; the mid-line comparisons inside them are cut
    out and chunks left without text dropped."""
    chunks = marked.str.extract_all(rf"(?i){_START}(?:{label}){_END}[^{_START}]*{_INTERRUPTIONS}")
    joined = _cut_interruptions(chunks.list.join(""))
    return joined.str.replace_all(rf"{_START}[^{_END}]*{_END}\s*({_START}|\z)", "$1")


def _cut_interruptions(text: pl.Expr) -> pl.Expr:
    """`text` without its mid-line comparisons: a space in their place, or the line break they ended with."""
    return text.str.replace_all(rf"{_INTERRUPTION}\n", "\n").str.replace_all(_INTERRUPTION, " ")


def _chunks(marked: pl.Expr, label: str) -> pl.Expr:
    """The text of the chunks headed by `label`, one per line; null when none has text."""
    # Each run of markers and the spaces around it becomes one newline: plain string ops, no `list.eval`.
    separated = _chunk_texts(marked, label).str.replace_all(rf"(?:\s*{_START}[^{_END}]*{_END})+\s*", "\n")
    return separated.str.strip_chars().replace("", None)


def _labelled(chunk_texts: pl.Expr, label: str = "$1") -> pl.Expr:
    """Each marked chunk opened by `label` (by default its heading as written, "Comparison: ...")."""
    labelled = chunk_texts.str.replace_all(rf"\s*{_START}([^{_END}]*?)[ \t]*:?{_END}\s*", f"\n{label}: ")
    return labelled.str.strip_chars().replace("", None)


def _midline_comparisons(marked: pl.Expr) -> pl.Expr:
    """The sentences that mid-line COMPARISON headings take, labelled."""
    sentences = marked.str.extract_all(rf"{_START}(?i:{_MIDLINE_COMPARISON_LABEL}){_END}[ \t]*{_SENTENCE}")
    return _labelled(sentences.list.join(""))


def _preamble(marked: pl.Expr) -> pl.Expr:
    text = _cut_interruptions(marked.str.extract(rf"\A([^{_START}]*{_INTERRUPTIONS})", 1))
    return text.str.strip_chars().replace("", None)


def _title(marked: pl.Expr, preamble: pl.Expr) -> pl.Expr:
    """The first line of the preamble when it reads like an exam title and a heading follows, else null (a report
    without headings is all preamble)."""
    line = preamble.str.extract(r"\A([^\n]*)", 1).str.strip_chars()
    title_like = (
        (line.str.len_chars() <= 120)
        & (line.str.count_matches(r"[ \t]+") < 15)  # words
        & line.str.contains(r"\p{L}")
        & ~line.str.contains(r"[.!?;:]\s+\S")
        & ~line.str.contains(_TITLE_VERB)
        & marked.str.contains(_START, literal=True)
    )
    return pl.when(title_like).then(line)


def _other_sections(marked: pl.Expr, exam_heading: pl.Expr, preamble: pl.Expr) -> pl.Expr:
    """Everything outside the kept sections, each part labelled by where it came from."""
    title_used = exam_heading.is_null() & _title(marked, preamble).is_not_null()
    rest = pl.when(title_used).then(preamble.str.replace(r"\A[^\n]*\n?", "").str.strip_chars()).otherwise(preamble)
    parts = [
        pl.lit("PREAMBLE: ") + rest.replace("", None),
        _labelled(_chunk_texts(marked, _label("comparison"))),
        _midline_comparisons(marked),
        _labelled(_chunk_texts(marked, _label("technique"))),
        _labelled(_chunk_texts(marked, _label("after_impression"))),
        # A sign-off chunk keeps its opening words as text: its marker gives way to one label.
        _labelled(_chunk_texts(marked, _SIGNOFF), "SIGN-OFF"),
    ]
    return pl.concat_str(parts, separator="\n", ignore_nulls=True).replace("", None)


def _headings_found(marked: pl.Expr) -> pl.Expr:
    """The headings of a report as written, comma-separated (sign-offs are not headings); null when none."""
    found = marked.str.extract_all(rf"{_START}[^{_END}]*{_END}").list.join("")
    headings = found.str.replace_all(rf"(?i){_START}(?:{_SIGNOFF}){_END}", "")
    # A mid-line comparison's label keeps its colon; shown without it.
    listed = headings.str.replace_all(rf"[ \t]*:?{_END}{_START}", ", ").str.replace_all(
        rf"[ \t]*:?{_END}|{_CONTROL}", ""
    )
    return listed.replace("", None)


def split_sections_expr(text: pl.Expr) -> pl.Expr:
    """Split report text into its sections.

    Args:
        text: String expression holding whole reports.

    Returns:
        Struct expression with one String field per `SECTION_FIELDS` entry, in that order, null where the section is
        absent or empty, then `headings` (the headings found, as written, comma-separated; null when none); all
        fields are null for null text.
    """
    # Eager polars has no common-subexpression elimination and would mark each report once per section, so the
    # struct carries its intermediates in the slots of fields written later: the marked text in `exam`, then the
    # EXAM heading's text in `other_sections` and the preamble in `headings`. Each `with_fields` reads the struct
    # as it was before that call.
    marked, exam_heading, preamble = pl.field("exam"), pl.field("other_sections"), pl.field("headings")
    conclusion = f"{_CONCLUSION}(?:{_label('summary_or_interpretation')})"
    sections = {
        "clinical_information": _chunks(marked, _label("clinical_information")),
        "findings": _chunks(marked, f"{_label('findings')}|{_label('summary_or_interpretation')}"),
        "impression": _chunks(marked, f"{_label('impression')}|{conclusion}"),
        "other_sections": _chunks(marked, _label("exam")),
        "headings": _preamble(marked),
    }
    derived = {
        "exam": pl.coalesce(exam_heading, _title(marked, preamble)),
        "other_sections": _other_sections(marked, exam_heading, preamble),
        "headings": _headings_found(marked),
    }
    marked_struct = pl.struct(_mark_conclusion(_mark_headings(text)).alias("exam"))
    return marked_struct.struct.with_fields(**sections).struct.with_fields(**derived)


def split_sections(text: str | None) -> dict[str, str | None]:
    """`split_sections_expr` for one report: section name -> text or None (and `headings`)."""
    return pl.select(split_sections_expr(pl.lit(text, dtype=pl.String))).item()


def has_sections(text: pl.Expr) -> pl.Expr:
    """Whether `text` has at least one recognisable heading (a sign-off is none); false for null text."""
    return split_sections_expr(text).struct.field("headings").is_not_null()


_REASON_LABELS = {
    "preamble": "PREAMBLE",
    "comparison": _label("comparison"),
    "technique": _label("technique"),
    "after_impression": _label("after_impression"),
    "signoff": "SIGN-OFF",
}


def other_sections_amounts(reports: pl.DataFrame | pl.LazyFrame) -> dict[str, dict[str, int]]:
    """How much text each reason put in `other_sections`.

    Args:
        reports: A frame with an `other_sections` column (the kept or quarantined reports of `ingest`).

    Returns:
        {reason: {"reports": reports with such text, "chars": its characters, labels and separators left out}}
        for every reason in `OTHER_REASONS`, in that order, zeros included.
    """
    every_label = "|".join(f"(?:{label})" for label in _REASON_LABELS.values())
    # Each part's label becomes a marker, swallowing the newline that separates it from the part before.
    marked = pl.col("other_sections").str.replace_all(
        rf"(?i)(?:\A|\n)({every_label})[ \t]*:[ \t]?", f"{_START}$1{_END}"
    )
    columns = []
    for reason, label in _REASON_LABELS.items():
        parts = marked.str.extract_all(rf"(?i){_START}(?:{label}){_END}[^{_START}]*").list.join("")
        chars = parts.str.replace_all(rf"{_START}[^{_END}]*{_END}", "").str.len_chars().fill_null(0)
        columns += [(chars > 0).sum().alias(f"{reason}.reports"), chars.sum().alias(f"{reason}.chars")]
    totals = reports.lazy().select(columns).collect().row(0, named=True)
    return {r: {"reports": int(totals[f"{r}.reports"]), "chars": int(totals[f"{r}.chars"])} for r in OTHER_REASONS}
