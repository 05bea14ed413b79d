"""Baseline: the same files as a fine-tuned variant's, from a rule that needs no model."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl

from radimpress.evaluation.baselines import BaselineSpec, predict_baseline
from radimpress.files import RUN_FACTS, read_frame, write_frame, write_json
from radimpress.stages.store import stage


@stage("baseline")
def baseline_stage(baseline: BaselineSpec, train_path: Path, test_path: Path, *, out: Path) -> Path:
    """generations.parquet, and run.json with the generation and (zero) training facts a variant's folders hold."""
    test = read_frame(test_path)
    started = time.perf_counter()
    predicted = predict_baseline(baseline.name, read_frame(train_path), test)
    seconds = time.perf_counter() - started
    generations = test.with_columns(
        pl.lit(baseline.variant_id).alias("variant_id"),
        pl.lit(test_path.stem).alias("split"),
        pl.col("impression").alias("reference"),
        pl.Series("generated", predicted, dtype=pl.String),
    )
    write_frame(generations, out / "generations.parquet")
    facts = {"seconds": seconds, "new_tokens": 0, "tokens_per_second": 0.0, "reports": test.height}
    write_json(facts | {"train_seconds": 0.0, "losses": [], "n_examples": 0}, out / RUN_FACTS)
    return out
