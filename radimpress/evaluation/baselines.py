"""Two baselines that join every comparison: a fine-tuned model is only worth its cost if it beats them."""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

BASELINES = ("most_frequent_impression", "last_findings_sentence")


@dataclass(frozen=True)
class BaselineSpec:
    """A baseline on one modality, shaped like a variant for the comparison tables."""

    name: str
    modality: str
    model: str = "baseline"

    @property
    def input_config(self) -> str:
        return self.name

    @property
    def variant_id(self) -> str:
        return f"baseline.{self.name}.{self.modality}"


def most_frequent_impression(train: pl.DataFrame, test: pl.DataFrame) -> list[str]:
    """The training split's most frequent impression, for every test report (ties: the first in id order)."""
    counts = train.group_by("impression", maintain_order=True).len().sort("len", descending=True, maintain_order=True)
    return [counts["impression"][0]] * test.height


def last_findings_sentence(test: pl.DataFrame) -> list[str]:
    """The last sentence of each report's findings: radiologists often end the findings on what matters."""
    return [_sentences(text)[-1] if _sentences(text) else "" for text in test["findings"].fill_null("")]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def predict_baseline(name: str, train: pl.DataFrame, test: pl.DataFrame) -> list[str]:
    """The baseline's impression for every test report."""
    if name == "most_frequent_impression":
        return most_frequent_impression(train, test)
    return last_findings_sentence(test)
