"""The factual-correctness rubric (docs/rubric.md): its error categories and penalties."""

from __future__ import annotations

from dataclasses import dataclass

ERROR_CATEGORIES: tuple[str, ...] = (
    "false_finding",
    "missing_finding",
    "wrong_location",
    "wrong_severity",
    "unsupported_comparison",
    "omitted_comparison",
)


@dataclass(frozen=True)
class RubricWeights:
    """Penalties of the factual-correctness rubric (docs/rubric.md), subtracted from `max_score`."""

    contradiction: float = 4.0
    """Each finding stated present when absent or vice versa, on the wrong side, or with a wrong severity."""
    major_omission: float = 3.0
    """Each clinically significant finding of the reference impression left out."""
    minor_omission: float = 1.0
    """Each minor finding of the reference impression left out."""
    unsupported_addition: float = 2.0
    """Each positive finding stated that the case does not have."""
    max_score: float = 10.0
    """The score of a flawless impression; scores are floored at 0."""


DEFAULT_WEIGHTS = RubricWeights()


def significant_column(category: str) -> str:
    """The column that counts a category's clinically significant errors (the category's own column counts all)."""
    return f"{category}_significant"


ErrorCounts = dict[str, tuple[float, float]]
"""Per error category with any errors: (clinically significant, not significant) counts, whole or expected."""


def penalty(category: str, significant: bool, weights: RubricWeights = DEFAULT_WEIGHTS) -> float:
    """What one error costs (docs/rubric.md). A significant false finding contradicts the findings; a minor one is
    an unsupported addition. Wrong location and severity are contradictions whatever their flag; a comparison
    made up is an addition, one left out a minor omission."""
    if category in ("wrong_location", "wrong_severity"):
        return weights.contradiction
    if category == "false_finding":
        return weights.contradiction if significant else weights.unsupported_addition
    if category == "missing_finding":
        return weights.major_omission if significant else weights.minor_omission
    if category == "unsupported_comparison":
        return weights.unsupported_addition
    if category == "omitted_comparison":
        return weights.minor_omission
    raise ValueError(f"unknown error category {category!r}; the rubric's are {list(ERROR_CATEGORIES)}")


def score_from_errors(counts: ErrorCounts, weights: RubricWeights = DEFAULT_WEIGHTS) -> float:
    """The rubric's score of an impression with these errors: max_score minus their penalties, floored at 0."""
    lost = sum(
        n_significant * penalty(category, True, weights) + n_minor * penalty(category, False, weights)
        for category, (n_significant, n_minor) in counts.items()
    )
    return max(0.0, weights.max_score - lost)
