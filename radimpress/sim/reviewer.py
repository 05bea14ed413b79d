"""The simulated reviewer: the factual-correctness rubric (docs/rubric.md) applied with a synthetic ground truth.

For tests and demos only; wherever its scores appear they are labelled simulated. It reads text with a
lexicon (`synthetic.FINDING_TERMS` plus the case's own terms), so it understands wording close to the
generator's: a finding's term stated literally, its side and severity words in the same sentence, negation
cues before the term (or "is not seen", "has resolved" right after it). It does not model comparisons with
prior exams.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from radimpress.config import ReviewConfig
from radimpress.review.rubric import DEFAULT_WEIGHTS, ERROR_CATEGORIES, RubricWeights
from radimpress.sim.synthetic import FINDING_TERMS

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
    case does not have is an unsupported addition; a finding of the case stated absent is a contradiction.

    Args:
        generated: The generated impression; empty text is allowed.
        ground_truth_json: The case's `ground_truth` (a JSON list, as `synthetic.generate_reports` writes it).
        modality: Modality code selecting the lexicon of `synthetic.FINDING_TERMS`; with an unknown code only
            the case's own terms are read.
        weights: Rubric penalties.

    Returns:
        The score (max_score minus penalties, floored at 0) and counts per error category.
    """
    truth = _parse_truth(ground_truth_json)
    terms = set(FINDING_TERMS.get(modality, {})) | {entry["finding"] for entry in truth}
    stated = extract_stated_findings(generated or "", terms)
    errors = _reference_errors(truth, stated, weights) + _findings_errors(truth, stated, weights)
    counts = Counter(category for category, _ in errors)
    score = max(0.0, weights.max_score - sum(penalty for _, penalty in errors))
    return Review(score=score, categories={category: counts[category] for category in ERROR_CATEGORIES})


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
        One row per input row, in the same order: report_id, score (Float64) and one Int64 count per error
        category (`ERROR_CATEGORIES`).
    """
    rows = zip(frame[generated_col], frame["ground_truth"], frame["modality"], strict=True)
    reviews = [review_impression(generated or "", truth, modality, weights) for generated, truth, modality in rows]
    counts = {c: pl.Series(c, [r.categories[c] for r in reviews], dtype=pl.Int64) for c in ERROR_CATEGORIES}
    return pl.DataFrame(
        [
            frame["report_id"],
            pl.Series("score", [r.score for r in reviews], dtype=pl.Float64),
            *counts.values(),
        ]
    )


def _parse_truth(ground_truth_json: str | None) -> list[dict]:
    entries = json.loads(ground_truth_json) if ground_truth_json else []
    return [{**entry, "finding": entry["finding"].strip().lower()} for entry in entries]


def _reference_errors(
    truth: list[dict], stated: list[StatedFinding], weights: RubricWeights
) -> list[tuple[str, float]]:
    """Contradictions and omissions of the reference impression."""
    errors: list[tuple[str, float]] = []
    for entry in (e for e in truth if e["in_impression"]):
        candidates = [s for s in stated if s.finding == entry["finding"]]
        if candidates:  # a term stated twice ("left ... right ...") is judged by its best statement
            errors += min((_mismatches(entry, s, weights) for s in candidates), key=lambda e: sum(p for _, p in e))
        elif not entry["negated"]:
            errors.append(("missing_finding", _omission_penalty(entry, weights)))
    return errors


def _omission_penalty(entry: dict, weights: RubricWeights) -> float:
    return weights.major_omission if entry["significant"] else weights.minor_omission


def _mismatches(entry: dict, stated: StatedFinding, weights: RubricWeights) -> list[tuple[str, float]]:
    if stated.negated != entry["negated"]:
        return [("false_finding", weights.contradiction)]
    errors = []
    if _differs(entry.get("side"), stated.side):
        errors.append(("wrong_location", weights.contradiction))
    if _differs(entry.get("severity"), stated.severity):
        errors.append(("wrong_severity", weights.contradiction))
    return errors


def _differs(expected: str | None, stated: str | None) -> bool:
    """Only a side or severity stated differently counts; one left unstated does not."""
    return expected is not None and stated is not None and expected != stated


def _findings_errors(truth: list[dict], stated: list[StatedFinding], weights: RubricWeights) -> list[tuple[str, float]]:
    """Errors against the findings beyond the reference: positives the case lacks, its positives denied."""
    present = {e["finding"] for e in truth if not e["negated"]}
    referenced = {e["finding"] for e in truth if e["in_impression"]}  # judged by _reference_errors already
    stated_present = {s.finding for s in stated if not s.negated}
    added = stated_present - present - referenced
    denied = {s.finding for s in stated if s.negated} & (present - referenced - stated_present)
    additions = [("false_finding", weights.unsupported_addition)] * len(added)
    return additions + [("false_finding", weights.contradiction)] * len(denied)


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
