"""The two baselines every comparison carries."""

from __future__ import annotations

import polars as pl

from radimpress.evaluation.baselines import (
    BaselineSpec,
    last_findings_sentence,
    most_frequent_impression,
    predict_baseline,
)

TRAIN = pl.DataFrame({"impression": ["No acute abnormality.", "Small infarct.", "No acute abnormality."]})
TEST = pl.DataFrame(
    {
        "findings": ["The ventricles are normal. There is a small left infarct.", "Single sentence without stop", None],
        "impression": ["Infarct.", "x", "y"],
    }
)


def test_most_frequent_impression_is_predicted_for_every_test_report():
    assert most_frequent_impression(TRAIN, TEST) == ["No acute abnormality."] * 3


def test_last_findings_sentence():
    assert last_findings_sentence(TEST) == ["There is a small left infarct.", "Single sentence without stop", ""]


def test_predict_baseline_dispatches_by_name():
    assert predict_baseline("last_findings_sentence", TRAIN, TEST)[0] == "There is a small left infarct."
    assert predict_baseline("most_frequent_impression", TRAIN, TEST)[1] == "No acute abnormality."


def test_baseline_spec_reads_like_a_variant():
    spec = BaselineSpec("most_frequent_impression", "mri")
    assert (spec.model, spec.input_config, spec.variant_id) == (
        "baseline",
        "most_frequent_impression",
        "baseline.most_frequent_impression.mri",
    )
