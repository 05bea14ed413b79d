"""The review stage with `source: app`: it publishes the sample to the store, stops with what is missing, and once
every answer is in, gives the judge the reviewers' mean scores, their own per-variant scores and their agreement."""

from __future__ import annotations

import polars as pl
import pytest

from radimpress.config import ReviewConfig
from radimpress.errors import ReviewScoresMissingError
from radimpress.files import read_frame, write_frame
from radimpress.review.rubric import ERROR_CATEGORIES
from radimpress.review.store import item_key
from radimpress.stages.review import review_stage, review_store
from tests.review.conftest import VARIANTS, review_sample


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RADIMPRESS_DATA_DIR", str(tmp_path / "data"))


def _generation_dirs(tmp_path) -> list:
    sample = review_sample(12)
    dirs = []
    for variant in VARIANTS:
        folder = tmp_path / variant
        folder.mkdir()
        write_frame(sample.filter(pl.col("variant_id") == variant), folder / "generations.parquet")
        dirs.append(folder)
    return dirs


def test_the_stage_waits_for_every_answer_then_trains_on_the_reviewers_mean(tmp_path):
    cfg = ReviewConfig(source="app", reviewers=["alice", "bob"], calibration_share=0.5, n_samples=24, seed=2)
    dirs = _generation_dirs(tmp_path)
    with pytest.raises(ReviewScoresMissingError, match="36 review answers are still missing \\(0 given\\)"):
        review_stage(dirs, cfg)  # 12 calibration items twice + 12 dealt out
    store = review_store(cfg)
    # alice scores a copied impression 10 and a truncated one 6; bob is one point harsher on everything.
    sample = review_sample(12)
    keys = [
        item_key(f, r, g) for f, r, g in zip(sample["findings"], sample["reference"], sample["generated"], strict=True)
    ]
    truncated = {key for key, variant in zip(keys, sample["variant_id"], strict=True) if variant == VARIANTS[1]}
    for reviewer, harsher in (("alice", 0), ("bob", 1)):
        for item in store.assignment(reviewer):
            score = (6 if item in truncated else 10) - harsher
            store.submit(reviewer, item, score, {"missing_finding": "significant"} if item in truncated else {}, "", 0)
    out = review_stage(dirs, cfg)
    reviewed = read_frame(out / "reviewed.parquet")
    assert reviewed.height == 24 and set(reviewed["review_source"]) == {"reviewers"}
    both = reviewed.filter(pl.col("n_reviews") == 2)
    assert both.height == 12
    assert set(both["score"]) <= {9.5, 5.5}  # the mean of alice's and bob's
    # Their ticks reach the judge: a significant missed finding on every truncated impression, nothing elsewhere.
    ticked = reviewed["item_id"].is_in(sorted(truncated))
    assert reviewed["missing_finding"].to_list() == ticked.cast(pl.Int64).to_list()
    assert reviewed["missing_finding_significant"].to_list() == ticked.cast(pl.Int64).to_list()
    assert reviewed.filter(~ticked).select(pl.sum_horizontal(ERROR_CATEGORIES)).to_series().to_list() == [0] * 12
    humans = pl.read_csv(out / "human_scores.csv")
    means = dict(zip(humans["Variant"], humans["Mean score (reviewers)"], strict=True))
    assert 9.0 <= means[VARIANTS[0]] <= 10.0 and 5.0 <= means[VARIANTS[1]] <= 6.0
    agreement = pl.read_csv(out / "agreement.csv")
    alpha = agreement.filter(pl.col("Coefficient") == "krippendorff_alpha").row(0, named=True)
    assert alpha["Items"] == 12 and 0.5 < alpha["Value"] < 1.0  # same ranking, a 1-point offset: good, not perfect
    assert alpha["CI low"] <= alpha["Value"] <= alpha["CI high"]
