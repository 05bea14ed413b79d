"""The simulated reviewer: the factual-correctness rubric (docs/rubric.md) applied with a synthetic ground truth.

For tests and demos only; wherever its scores appear they are labelled simulated. It reads text with a
lexicon (`synthetic.FINDING_TERMS` plus the case's own terms), so it understands wording close to the
generator's: a finding's term stated literally, its side and severity words in the same sentence, negation
cues before the term (or "is not seen", "has resolved" right after it). It does not model comparisons with
prior exams.

What it cannot read is never taken as correct: an impression with no finding of the lexicon and no normal
statement ("Normal MRI of the brain.", "No acute abnormality.") says nothing usable and scores 0, missing every
finding of the reference; a sentence it cannot interpret inside a usable impression is counted (`uninterpretable`)
and costs an unsupported addition (a denial it cannot interpret costs a minor omission's point).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import polars as pl

from radimpress.config import ReviewConfig
from radimpress.review.rubric import DEFAULT_WEIGHTS, ERROR_CATEGORIES, RubricWeights, significant_column
from radimpress.sim.synthetic import FINDING_TERMS

ALL_FINDING_TERMS = frozenset(term for terms in FINDING_TERMS.values() for term in terms)

# "small"/"large" describe size, but reviewers read "small effusion" as mild and "large effusion" as severe.
SEVERITY_WORDS = {
    "mild": "mild",
    "mildly": "mild",
    "minimal": "mild",
    "trace": "mild",
    "small": "mild",
    "moderate": "moderate",
    "moderately": "moderate",
    "severe": "severe",
    "severely": "severe",
    "marked": "severe",
    "markedly": "severe",
    "large": "severe",
}

_ITEM_NUMBER = re.compile(r"(?:^|\s)\d{1,2}[.)]\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_CLAUSE_BREAK = re.compile(r";|\b(?:but|however|although|except)\b", re.IGNORECASE)
_NEGATION_BEFORE = re.compile(r"\b(?:no|without|negative for|free of|absence of|resolution of)\b", re.IGNORECASE)
_NEGATION_AFTER = re.compile(
    r"\s*(?:(?:is|are|was|were|has|have)\s+)?(?:not\s+(?:seen|identified|present|demonstrated|visualized)|absent|resolved)\b",
    re.IGNORECASE,
)
_SIDE = re.compile(r"\b(?:left|right|bilateral|bilaterally)\b", re.IGNORECASE)
_SEVERITY = re.compile(r"\b(?:" + "|".join(SEVERITY_WORDS) + r")\b", re.IGNORECASE)
# What may stand between an adjective and its term: "severe right pneumothorax", "mild to moderate effusion".
_MODIFIERS = "|".join(["left", "right", "bilaterally", "bilateral", *SEVERITY_WORDS])
_ADJECTIVE_GAP = re.compile(rf"(?:[\s,-]+|a|an|the|to|{_MODIFIERS})*", re.IGNORECASE)
# A statement that the study (or a region of it) is normal: it negates every finding the case does not have.
_NORMAL_STATEMENT = re.compile(
    r"\b(?:normal|unremarkable|within normal limits|no (?:acute|significant|internal derangement)|"
    r"no (?:\w+ ){0,2}(?:abnormality|abnormalities|process)|negative (?:study|exam(?:ination)?))\b",
    re.IGNORECASE,
)
# Advice carries no finding to be right or wrong about.
_ADVICE = re.compile(r"\b(?:recommend\w*|correlate|follow[- ]?up|comparison with prior)\b", re.IGNORECASE)
_LETTER = re.compile(r"[^\W\d_]")
# A spinal level range such as "L4-L5"; one whose second level is not below the first is no place at all.
_LEVEL_RANGE = re.compile(r"\b([CTLS])(\d{1,2})\s*[-/]\s*([CTLS])?(\d{1,2})\b")
_LEVELS = {"C": 7, "T": 12, "L": 5, "S": 5}


@dataclass(frozen=True)
class StatedFinding:
    """A finding term as a text states it."""

    finding: str
    """The lexicon term, lower-case."""
    side: str | None
    severity: str | None
    negated: bool


@dataclass(frozen=True)
class Review:
    """One simulated review: the rubric score and how many errors of each category it found."""

    score: float
    categories: dict[str, int]
    significant: int = 0
    """How many of the errors are clinically significant (contradictions, major omissions, false findings in a
    normal study, impossible locations)."""
    uninterpretable: int = 0
    """Sentences (or clauses) it could not read as a finding, a normal statement or advice."""
    significant_categories: dict[str, int] = field(default_factory=dict)
    """The significant errors by category, for the categories that have any (the judge learns the split)."""
    usable: bool = True
    """False when the impression says nothing usable (scored 0 whatever its counts)."""


def extract_stated_findings(text: str, terms: Iterable[str]) -> list[StatedFinding]:
    """Find the lexicon terms a text states, with their negation, side and severity.

    The text is split into numbered items, sentences and clauses (at ";", "but", "however"). Within a clause
    a term is negated when a cue ("no", "without", "negative for", ...) precedes it or "is not seen" / "has
    resolved" follows it; each side or severity word belongs to the nearest term. Terms match
    case-insensitively, as whole words, longest first, singular or plural.

    Args:
        text: Impression or findings text.
        terms: The lexicon.

    Returns:
        The stated findings in text order.
    """
    pattern, ordered = _lexicon(tuple(sorted({t.strip().lower() for t in terms if t.strip()})))
    if pattern is None:
        return []
    return [stated for clause in _clauses(text) for stated in _clause_findings(clause, pattern, ordered)]


def review_impression(
    generated: str, ground_truth_json: str, modality: str, weights: RubricWeights = DEFAULT_WEIGHTS
) -> Review:
    """Score a generated impression against a synthetic case's ground truth with the rubric.

    The reference is the ground-truth entries with in_impression=true. Each one stated with the opposite
    negation, the wrong side or the wrong severity is a contradiction; one not mentioned is a major or minor
    omission (a reference negative such as "No pneumothorax." left out costs nothing). A positive finding the
    case does not have is an unsupported addition, or a contradiction when the findings deny it or the study is
    normal; a finding of the case stated absent is a contradiction; a spinal level range that names no place
    ("L4-L4") is a wrong location. An impression that says nothing usable scores 0 (see the module's notes).

    Args:
        generated: The generated impression; empty text is allowed.
        ground_truth_json: The case's `ground_truth` (a JSON list, as `synthetic.generate_reports` writes it).
        modality: Modality code; every modality's lexicon (`synthetic.FINDING_TERMS`) is read, and the case's own
            terms.
        weights: Rubric penalties.

    Returns:
        The score (max_score minus penalties, floored at 0) and counts per error category.
    """
    truth = _parse_truth(ground_truth_json)
    # Every modality's terms: a model that names a CT finding in an MRI report has said something, if wrong.
    terms = ALL_FINDING_TERMS | set(FINDING_TERMS.get(modality, {})) | {entry["finding"] for entry in truth}
    reading = _read(generated or "", terms)
    if not reading.usable:
        return _nothing_usable(truth)
    errors = (
        _reference_errors(truth, reading.stated, weights)
        + _findings_errors(truth, reading.stated, weights)
        + _uninterpretable_errors(reading, weights)
        + [("wrong_location", weights.contradiction, True)] * _impossible_levels(generated or "")
    )
    counts = Counter(category for category, _, _ in errors)
    score = max(0.0, weights.max_score - sum(penalty for _, penalty, _ in errors))
    return Review(
        score=score,
        categories={category: counts[category] for category in ERROR_CATEGORIES},
        significant=sum(significant for _, _, significant in errors),
        uninterpretable=len(reading.uninterpretable) + len(reading.uninterpretable_denials),
        significant_categories=dict(Counter(category for category, _, significant in errors if significant)),
    )


@dataclass(frozen=True)
class _Reading:
    stated: list[StatedFinding]
    uninterpretable: list[str]
    """Clauses that claim something it cannot read."""
    uninterpretable_denials: list[str]
    """Clauses that deny something it cannot read ("No evidence of foo.")."""
    usable: bool


def _read(text: str, terms: set[str]) -> _Reading:
    pattern, ordered = _lexicon(tuple(sorted({t.strip().lower() for t in terms if t.strip()})))
    stated: list[StatedFinding] = []
    claims, denials, normal = [], [], False
    for clause in (c for c in _clauses(text) if _LETTER.search(c)):
        found = _clause_findings(clause, pattern, ordered) if pattern is not None else []
        stated += found
        if _NORMAL_STATEMENT.search(clause):
            normal = True
        elif not found and not _ADVICE.search(clause):
            (denials if _NEGATION_BEFORE.search(clause) else claims).append(clause.strip())
    return _Reading(stated, claims, denials, usable=bool(stated) or normal)


def _nothing_usable(truth: list[dict]) -> Review:
    """Empty, truncated to nothing, or unreadable: every finding of the reference is missing, and the score is 0."""
    referenced = [entry for entry in truth if entry["in_impression"]]
    categories = dict.fromkeys(ERROR_CATEGORIES, 0) | {"missing_finding": max(1, len(referenced))}
    significant = sum(entry["significant"] for entry in referenced) if referenced else 1
    return Review(
        score=0.0,
        categories=categories,
        significant=significant,
        uninterpretable=1,
        significant_categories={"missing_finding": significant},
        usable=False,
    )


def _uninterpretable_errors(reading: _Reading, weights: RubricWeights) -> list[tuple[str, float, bool]]:
    claims = [("false_finding", weights.unsupported_addition, False)] * len(reading.uninterpretable)
    return claims + [("false_finding", weights.minor_omission, False)] * len(reading.uninterpretable_denials)


def _impossible_levels(text: str) -> int:
    """Spinal level ranges that name no place: "L4-L4", "L5-L3", "L7-L8"."""
    order = [f"{region}{n}" for region, top in _LEVELS.items() for n in range(1, top + 1)]
    impossible = 0
    for match in _LEVEL_RANGE.finditer(text):
        first = f"{match[1].upper()}{int(match[2])}"
        second = f"{(match[3] or match[1]).upper()}{int(match[4])}"
        if first not in order or second not in order or order.index(second) <= order.index(first):
            impossible += 1
    return impossible


def review_frame(
    frame: pl.DataFrame, weights: RubricWeights = DEFAULT_WEIGHTS, generated_col: str = "generated"
) -> pl.DataFrame:
    """Review every row of a frame of generated impressions.

    Args:
        frame: Columns report_id, modality, ground_truth and `generated_col`; a null generated text counts as
            empty.
        weights: Rubric penalties.
        generated_col: Column holding the generated impressions.

    Returns:
        One row per input row, in the same order: report_id, score (Float64), one Int64 count per error
        category (`ERROR_CATEGORIES`), significant_errors, uninterpretable, one Int64 count of each category's
        significant errors (`significant_column`) and usable (False: it says nothing usable, scored 0).
    """
    rows = zip(frame[generated_col], frame["ground_truth"], frame["modality"], strict=True)
    reviews = [review_impression(generated or "", truth, modality, weights) for generated, truth, modality in rows]
    counts = {c: pl.Series(c, [r.categories[c] for r in reviews], dtype=pl.Int64) for c in ERROR_CATEGORIES}
    return pl.DataFrame(
        [
            frame["report_id"],
            pl.Series("score", [r.score for r in reviews], dtype=pl.Float64),
            *counts.values(),
            pl.Series("significant_errors", [r.significant for r in reviews], dtype=pl.Int64),
            pl.Series("uninterpretable", [r.uninterpretable for r in reviews], dtype=pl.Int64),
            *(
                pl.Series(significant_column(c), [r.significant_categories.get(c, 0) for r in reviews], dtype=pl.Int64)
                for c in ERROR_CATEGORIES
            ),
            pl.Series("usable", [r.usable for r in reviews], dtype=pl.Boolean),
        ]
    )


def _parse_truth(ground_truth_json: str | None) -> list[dict]:
    entries = json.loads(ground_truth_json) if ground_truth_json else []
    return [{**entry, "finding": entry["finding"].strip().lower()} for entry in entries]


def _reference_errors(
    truth: list[dict], stated: list[StatedFinding], weights: RubricWeights
) -> list[tuple[str, float, bool]]:
    """Contradictions and omissions of the reference impression: (category, penalty, clinically significant)."""
    errors: list[tuple[str, float, bool]] = []
    for entry in (e for e in truth if e["in_impression"]):
        candidates = [s for s in stated if s.finding == entry["finding"]]
        if candidates:  # a term stated twice ("left ... right ...") is judged by its best statement
            errors += min((_mismatches(entry, s, weights) for s in candidates), key=lambda e: sum(p for _, p, _ in e))
        elif not entry["negated"]:
            errors.append(("missing_finding", _omission_penalty(entry, weights), bool(entry["significant"])))
    return errors


def _omission_penalty(entry: dict, weights: RubricWeights) -> float:
    return weights.major_omission if entry["significant"] else weights.minor_omission


def _mismatches(entry: dict, stated: StatedFinding, weights: RubricWeights) -> list[tuple[str, float, bool]]:
    if stated.negated != entry["negated"]:
        return [("false_finding", weights.contradiction, True)]
    errors = []
    if _differs(entry.get("side"), stated.side):
        errors.append(("wrong_location", weights.contradiction, True))
    if _differs(entry.get("severity"), stated.severity):
        errors.append(("wrong_severity", weights.contradiction, True))
    return errors


def _differs(expected: str | None, stated: str | None) -> bool:
    """Only a side or severity stated differently counts; one left unstated does not."""
    return expected is not None and stated is not None and expected != stated


def _findings_errors(
    truth: list[dict], stated: list[StatedFinding], weights: RubricWeights
) -> list[tuple[str, float, bool]]:
    """Errors against the findings beyond the reference: positives the case lacks, its positives denied.

    A positive the case lacks is an unsupported addition, unless the findings deny it or the whole study is
    normal: then it contradicts them, a clinically significant false finding.
    """
    present = {e["finding"] for e in truth if not e["negated"]}
    denied_by_findings = {e["finding"] for e in truth if e["negated"]}
    referenced = {e["finding"] for e in truth if e["in_impression"]}  # judged by _reference_errors already
    stated_present = {s.finding for s in stated if not s.negated}
    normal_study = not present
    errors = []
    for finding in sorted(stated_present - present - referenced):
        if normal_study or finding in denied_by_findings:
            errors.append(("false_finding", weights.contradiction, True))
        else:
            errors.append(("false_finding", weights.unsupported_addition, False))
    denied = {s.finding for s in stated if s.negated} & (present - referenced - stated_present)
    return errors + [("false_finding", weights.contradiction, True)] * len(denied)


@lru_cache(maxsize=64)
def _lexicon(terms: tuple[str, ...]) -> tuple[re.Pattern[str] | None, tuple[str, ...]]:
    """One regex with a named group per term, longest terms first so "pulmonary nodule" beats "nodule"."""
    ordered = tuple(sorted(terms, key=len, reverse=True))
    if not ordered:
        return None, ordered
    alternatives = "|".join(f"(?P<t{i}>{_term_pattern(term)})" for i, term in enumerate(ordered))
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE), ordered


def _term_pattern(term: str) -> str:
    """Whole words, any spacing or hyphens between them, singular or plural."""
    if term.endswith("ies"):
        body, suffix = term[:-3], "(?:y|ies)"
    elif term.endswith("s") and not term.endswith(("ss", "is", "us")):
        body, suffix = term[:-1], "s?"
    else:
        body, suffix = term, "(?:s|es)?"
    return r"[\s-]+".join(re.escape(word) for word in body.split()) + suffix


def _clauses(text: str) -> list[str]:
    pieces = [
        clause
        for item in _ITEM_NUMBER.split(text)
        for sentence in _SENTENCE_END.split(item)
        for clause in _CLAUSE_BREAK.split(sentence)
    ]
    return [piece for piece in pieces if piece.strip()]


def _clause_findings(clause: str, pattern: re.Pattern[str], ordered: tuple[str, ...]) -> list[StatedFinding]:
    matches = list(pattern.finditer(clause))
    spans = [m.span() for m in matches]
    sides, severities = _attach(_SIDE, clause, spans), _attach(_SEVERITY, clause, spans)
    return [
        StatedFinding(
            finding=ordered[int(m.lastgroup[1:])],
            side=_side(sides[i]),
            severity=SEVERITY_WORDS[severities[i][0]] if severities[i] else None,
            negated=_is_negated(clause, m),
        )
        for i, m in enumerate(matches)
    ]


def _attach(modifier: re.Pattern[str], clause: str, spans: list[tuple[int, int]]) -> list[list[str]]:
    """Give each modifier word to the term it fits best (see `_rank`); skip words inside terms."""
    attached: list[list[str]] = [[] for _ in spans]
    for m in modifier.finditer(clause):
        if spans and not any(start <= m.start() < end for start, end in spans):
            nearest = min(range(len(spans)), key=lambda i: _rank(clause, m.span(), spans[i]))
            attached[nearest].append(m.group(0).lower())
    return attached


def _rank(clause: str, word: tuple[int, int], term: tuple[int, int]) -> tuple[int, int]:
    """How well a modifier fits a term (lower is better): its adjective, the nearest term before it, any."""
    if word[1] <= term[0]:
        gap = clause[word[1] : term[0]]
        return (0, 0) if _ADJECTIVE_GAP.fullmatch(gap) else (2, len(gap))
    return 1, word[0] - term[1]


def _side(words: list[str]) -> str | None:
    sides = {"bilateral" if word.startswith("bilateral") else word for word in words}
    if "bilateral" in sides or {"left", "right"} <= sides:
        return "bilateral"
    return sides.pop() if sides else None


def _is_negated(clause: str, match: re.Match[str]) -> bool:
    before = _NEGATION_BEFORE.search(clause, 0, match.start()) is not None
    return before or _NEGATION_AFTER.match(clause, match.end()) is not None


def simulated_review(sample: pl.DataFrame, cfg: ReviewConfig) -> pl.DataFrame:
    """Apply the rubric to the synthetic ground truth (tests and demos only: labelled simulated)."""
    weights = RubricWeights(**cfg.rubric.model_dump())
    reviews = review_frame(sample.select("report_id", "modality", "ground_truth", "generated"), weights)
    return pl.concat([sample, reviews.drop("report_id")], how="horizontal").with_columns(
        pl.lit("simulated").alias("review_source")
    )
