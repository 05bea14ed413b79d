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
