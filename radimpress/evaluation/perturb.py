"""Rubric-labelled training pairs for the judge, made from the training split's reference impressions.

A hospital has about 100 reviewed impressions; the judge needs thousands of examples. Each pair here is a
reference impression and a copy of it with known errors: a finding negated, a side swapped, a severity changed, a
finding dropped, a finding added that the findings do not support, a comparison added or dropped, or a rewording
with no error. The rubric (docs/rubric.md) gives each pair its score and error categories by construction, so no
label is guessed. Only the training split is used: validation and test references never reach the judge.

The edits read plain English cues (left/right, mild/moderate/severe, "No ..."), so they work on any report
language close to it; a reference none of them applies to yields only the no-error pairs.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from radimpress.review.rubric import DEFAULT_WEIGHTS, ERROR_CATEGORIES, RubricWeights, significant_column

_NUMBERED = re.compile(r"(?:^|\s)\d{1,2}[.)]\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_NEGATIVE = re.compile(r"^\s*(?:no|negative for|without|there is no|there are no)\b", re.IGNORECASE)
_NORMAL = re.compile(r"\b(?:normal|unremarkable|no acute|no significant|within normal limits)\b", re.IGNORECASE)
_SIDES = {"left": "right", "right": "left"}
_SIDE = re.compile(r"\b(left|right)\b", re.IGNORECASE)
_SEVERITIES = {"mild": "severe", "moderate": "mild", "severe": "mild", "small": "large", "large": "small"}
_SEVERITY = re.compile(r"\b(mild|moderate|severe|small|large)\b", re.IGNORECASE)
_COMPARISON = re.compile(r"\b(?:compared|prior|previous|interval|unchanged|since|stable)\b", re.IGNORECASE)
_ADDED_COMPARISONS = ("Increased since the prior examination.", "New compared with the previous study.")
_REWORDINGS = (  # no-error rewordings: (pattern, replacement)
    (re.compile(r"\bNo evidence of\b"), "No"),
    (re.compile(r"\bFindings consistent with\b"), "Findings compatible with"),
    (re.compile(r"\bconsistent with\b"), "compatible with"),
    (re.compile(r"^No (?!evidence)"), "No evidence of "),
)

Error = tuple[str, float, bool]  # (category, penalty, clinically significant)


@dataclass(frozen=True)
class Perturbed:
    generated: str
    errors: list[Error]
    kinds: list[str]


def split_statements(impression: str) -> tuple[list[str], bool]:
    """The impression's statements (numbered items or sentences) and whether it was numbered."""
    numbered = bool(_NUMBERED.search(impression))
    pieces = _NUMBERED.split(impression) if numbered else [impression]
    statements = [s.strip() for piece in pieces for s in _SENTENCE_END.split(piece) if s.strip()]
    return statements, numbered


def join_statements(statements: list[str], numbered: bool) -> str:
    if numbered:
        return "\n".join(f"{i}. {s}" for i, s in enumerate(statements, start=1))
    return " ".join(statements)


def _is_positive(statement: str) -> bool:
    return not _NEGATIVE.search(statement) and not _NORMAL.search(statement) and not _COMPARISON.search(statement)


def _end(statement: str) -> str:
    return statement if statement.endswith((".", "!", "?")) else statement + "."


# --- the edits ---------------------------------------------------------------------------------------------
# Each takes the statements, the indices of those no earlier edit touched, a random source, the report's context
# and the rubric; it returns the new statements, its errors, the index it changed in place and the index it
# removed (each None if none), or None where it does not apply. Every edit touches reference statements only,
# never another edit's result, so its errors are exactly the ones it made.


def negate(statements, free, rng, context, weights):
    """A stated finding said absent, or a denied one said present: a contradiction."""
    candidates = [i for i in free if not _NORMAL.search(statements[i]) and not _COMPARISON.search(statements[i])]
    if not candidates:
        return None
    i = rng.choice(candidates)
    statement = statements[i]
    if _NEGATIVE.search(statement):
        body = re.sub(r"^(?:evidence of)\s+", "", _NEGATIVE.sub("", statement).strip(), flags=re.IGNORECASE)
        if not body:
            return None
        changed = _end(body[0].upper() + body[1:])
    else:
        body = re.sub(r"^(?:there (?:is|are)|an?|the)\s+", "", statement, flags=re.IGNORECASE)
        changed = _end("No " + body[0].lower() + body[1:])
    return _replace(statements, i, changed), [("false_finding", weights.contradiction, True)], i, None


def swap_side(statements, free, rng, context, weights):
    """Left for right: the right finding in the wrong place."""
    return _swap_word(statements, free, rng, _SIDE, _SIDES, ("wrong_location", weights.contradiction, True))


def change_severity(statements, free, rng, context, weights):
    """Mild for severe and the like: the right finding, the wrong severity."""
    return _swap_word(statements, free, rng, _SEVERITY, _SEVERITIES, ("wrong_severity", weights.contradiction, True))


def _swap_word(statements, free, rng, pattern: re.Pattern[str], swaps: dict[str, str], error: Error):
    """One stated (not denied) statement's first `pattern` word replaced by its swap, keeping its case."""
    candidates = [i for i in free if pattern.search(statements[i]) and not _NEGATIVE.search(statements[i])]
    if not candidates:
        return None
    i = rng.choice(candidates)
    changed = pattern.sub(lambda m: _cased(swaps[m[1].lower()], m[1]), statements[i], count=1)
    return _replace(statements, i, changed), [error], i, None


def reword(statements, free, rng, context, weights):
    """The same content in other words: no error."""
    for i in rng.sample(sorted(free), len(free)):
        for pattern, replacement in _REWORDINGS:
            if pattern.search(statements[i]):
                return _replace(statements, i, pattern.sub(replacement, statements[i], count=1)), [], i, None
    return None


def drop_finding(statements, free, rng, context, weights):
    """A stated finding left out: a clinically significant omission (the reference chose to state it)."""
    candidates = [i for i in free if _is_positive(statements[i])]
    if len(statements) < 2 or not candidates:
        return None
    i = rng.choice(candidates)
    return statements[:i] + statements[i + 1 :], [("missing_finding", weights.major_omission, True)], None, i


def drop_comparison(statements, free, rng, context, weights):
    candidates = [i for i in free if _COMPARISON.search(statements[i])]
    if len(statements) < 2 or not candidates:
        return None
    i = rng.choice(candidates)
    return statements[:i] + statements[i + 1 :], [("omitted_comparison", weights.minor_omission, False)], None, i


def add_finding(statements, free, rng, context, weights):
    """Another report's finding that this report's findings never mention: an unsupported addition, and a
    contradiction in a study whose reference states nothing abnormal."""
    findings = (context["findings"] or "").lower()
    pool = [s for s in context["pool"] if _is_positive(s) and not _shares_content(s, findings)]
    if not pool:
        return None
    normal_study = not any(_is_positive(s) for s in context["reference"])
    if normal_study:
        error = ("false_finding", weights.contradiction, True)
    else:
        error = ("false_finding", weights.unsupported_addition, False)
    return [*statements, rng.choice(pool)], [error], None, None


def add_comparison(statements, free, rng, context, weights):
    if any(_COMPARISON.search(s) for s in statements) or _COMPARISON.search(context["findings"] or ""):
        return None
    error = ("unsupported_comparison", weights.unsupported_addition, False)
    return [*statements, rng.choice(_ADDED_COMPARISONS)], [error], None, None


# In this order: edits in place first (indices stay valid), then removals, then additions (never edited after).
EDITS: dict[str, Callable] = {
    "negate": negate,
    "swap_side": swap_side,
    "change_severity": change_severity,
    "reword": reword,
    "drop_finding": drop_finding,
    "drop_comparison": drop_comparison,
    "add_finding": add_finding,
    "add_comparison": add_comparison,
}


def perturb(
    impression: str,
    findings: str | None,
    pool: list[str],
    rng: random.Random,
    n_edits: int,
    weights: RubricWeights = DEFAULT_WEIGHTS,
) -> Perturbed:
    """Up to `n_edits` edits of different kinds (drawn at random among those that apply), each to statements no
    other edit touched, applied in `EDITS` order."""
    statements, numbered = split_statements(impression)
    context = {"findings": findings, "pool": pool, "reference": list(statements)}
    everything = set(range(len(statements)))
    applicable = [name for name in EDITS if EDITS[name](statements, everything, random.Random(0), context, weights)]
    chosen = set(rng.sample(applicable, min(n_edits, len(applicable))))
    free = set(everything)
    errors: list[Error] = []
    kinds: list[str] = []
    for name in (name for name in EDITS if name in chosen):
        edited = EDITS[name](statements, free, rng, context, weights)
        if edited is None:  # an earlier edit took what it needed
            continue
        statements, new_errors, changed, removed = edited
        free.discard(changed)
        if removed is not None:
            free = {j - (j > removed) for j in free if j != removed}
        errors += new_errors
        kinds.append(name)
    return Perturbed(join_statements(statements, numbered), errors, kinds)


def perturbation_pairs(
    train: pl.DataFrame, n_pairs: int, seed: int, weights: RubricWeights = DEFAULT_WEIGHTS
) -> pl.DataFrame:
    """`n_pairs` rubric-labelled (reference, generated) pairs from a training split.

    Args:
        train: The training split: impression, findings and (optionally) clinical_information, report_id.
        n_pairs: How many pairs; references are drawn with replacement, each pair its own edits.
        seed: Seed of the draws and edits.
        weights: Rubric penalties.

    Returns:
        report_id, findings, clinical_information, reference, generated, score (0-10), one Int64 count per
        error category, significant_errors, kinds (the edits, comma-separated; "" for an exact copy) and one
        Int64 count of each category's significant errors (`significant_column`).
    """
    rng = random.Random(seed)
    usable = train.filter(pl.col("impression").str.strip_chars().str.len_chars() > 0)
    if usable.is_empty() or n_pairs == 0:
        return _frame([])
    pool = [s for text in usable["impression"] for s in split_statements(text)[0]]
    rows = []
    for _ in range(n_pairs):
        report = usable.row(rng.randrange(usable.height), named=True)
        perturbed = perturb(
            report["impression"], report["findings"], pool, rng, rng.choice((0, 1, 1, 2, 2, 3)), weights
        )
        rows.append((report, perturbed))
    return _frame(rows, weights)


def _frame(rows: list[tuple[dict, Perturbed]], weights: RubricWeights = DEFAULT_WEIGHTS) -> pl.DataFrame:
    counts = [Counter(category for category, _, _ in p.errors) for _, p in rows]
    significant = [Counter(category for category, _, flag in p.errors if flag) for _, p in rows]
    columns = {
        "report_id": [str(r.get("report_id", "")) for r, _ in rows],
        "findings": [r.get("findings") for r, _ in rows],
        "clinical_information": [r.get("clinical_information") for r, _ in rows],
        "reference": [r["impression"] for r, _ in rows],
        "generated": [p.generated for _, p in rows],
        "score": [max(0.0, weights.max_score - sum(e[1] for e in p.errors)) for _, p in rows],
    }
    schema = {name: pl.String for name in ("report_id", "findings", "clinical_information", "reference", "generated")}
    frame = pl.DataFrame(columns, schema=schema | {"score": pl.Float64})
    return frame.with_columns(
        *(pl.Series(c, [count[c] for count in counts], dtype=pl.Int64) for c in ERROR_CATEGORIES),
        pl.Series("significant_errors", [sum(e[2] for e in p.errors) for _, p in rows], dtype=pl.Int64),
        pl.Series("kinds", [",".join(p.kinds) for _, p in rows], dtype=pl.String),
        *(pl.Series(significant_column(c), [n[c] for n in significant], dtype=pl.Int64) for c in ERROR_CATEGORIES),
    )


def _replace(statements: list[str], i: int, changed: str) -> list[str]:
    return [*statements[:i], changed, *statements[i + 1 :]]


def _cased(word: str, like: str) -> str:
    return word.capitalize() if like[0].isupper() else word


def _shares_content(statement: str, findings: str) -> bool:
    """Whether a statement's longer words (its finding, mostly) occur in the findings."""
    words = {w for w in re.findall(r"[a-z]{5,}", statement.lower())} - {"findings", "consistent", "recommend"}
    return any(w in findings for w in words)
