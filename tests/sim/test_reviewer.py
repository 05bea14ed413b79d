import json

import polars as pl
import pytest

from radimpress.config import ReviewConfig
from radimpress.review.rubric import ERROR_CATEGORIES, RubricWeights
from radimpress.sim.reviewer import (
    Review,
    StatedFinding,
    extract_stated_findings,
    review_frame,
    review_impression,
    simulated_review,
)
from radimpress.sim.synthetic import generate_reports


def _entry(finding, side=None, severity=None, negated=False, significant=True, in_impression=True):
    return {
        "finding": finding,
        "location": "pleural space",
        "side": side,
        "severity": severity,
        "negated": negated,
        "significant": significant,
        "in_impression": in_impression,
    }


# A chest X-ray: a significant effusion and a stated-absent pneumothorax in the impression, minor atelectasis
# only in the findings. Reference impression: "1. Moderate left pleural effusion. 2. No pneumothorax."
CHEST = json.dumps(
    [
        _entry("pleural effusion", side="left", severity="moderate"),
        _entry("pneumothorax", negated=True),
        _entry("atelectasis", side="left", severity="mild", significant=False, in_impression=False),
    ]
)
NORMAL_CHEST = json.dumps([_entry("pneumothorax", negated=True, in_impression=False)])


def _errors(review: Review) -> dict[str, int]:
    return {category: count for category, count in review.categories.items() if count}


def test_exact_match_scores_full_marks():
    review = review_impression("1. Moderate left pleural effusion.\n2. No pneumothorax.", CHEST, "xray")
    assert review == Review(score=10.0, categories=dict.fromkeys(ERROR_CATEGORIES, 0))


def test_rewording_without_severity_or_pertinent_negative_is_not_penalised():
    assert review_impression("Left pleural effusion.", CHEST, "xray").score == 10.0


def test_significant_omission_costs_three():
    review = review_impression("No pneumothorax.", CHEST, "xray")
    assert review.score == 7.0
    assert _errors(review) == {"missing_finding": 1}


def test_minor_omission_costs_one():
    truth = json.dumps([_entry("atelectasis", side="left", significant=False)])
    assert review_impression("No acute cardiopulmonary abnormality.", truth, "xray").score == 9.0


def test_negation_flip_costs_four():
    review = review_impression("No pleural effusion. No pneumothorax.", CHEST, "xray")
    assert review.score == 6.0
    assert _errors(review) == {"false_finding": 1}


def test_stating_the_reference_negative_as_present_is_a_contradiction():
    review = review_impression("Moderate left pleural effusion. Small pneumothorax.", CHEST, "xray")
    assert review.score == 6.0
    assert _errors(review) == {"false_finding": 1}


def test_wrong_side_costs_four():
    review = review_impression("Moderate right pleural effusion.", CHEST, "xray")
    assert review.score == 6.0
    assert _errors(review) == {"wrong_location": 1}


def test_wrong_severity_costs_four():
    review = review_impression("Severe left pleural effusion.", CHEST, "xray")
    assert review.score == 6.0
    assert _errors(review) == {"wrong_severity": 1}


def test_unsupported_addition_costs_two():
    review = review_impression("Moderate left pleural effusion. Cardiomegaly.", CHEST, "xray")
    assert review.score == 8.0
    assert _errors(review) == {"false_finding": 1}


def test_finding_supported_by_the_findings_is_not_an_addition():
    generated = "Moderate left pleural effusion and mild left atelectasis."
    assert review_impression(generated, CHEST, "xray").score == 10.0


def test_denying_a_finding_of_the_findings_is_a_contradiction():
    review = review_impression("Moderate left pleural effusion. No atelectasis.", CHEST, "xray")
    assert review.score == 6.0
    assert _errors(review) == {"false_finding": 1}


def test_several_errors_floor_at_zero_and_are_all_counted():
    generated = "1. Severe right pleural effusion.\n2. Pneumothorax.\n3. Cardiomegaly.\n4. Consolidation."
    review = review_impression(generated, CHEST, "xray")
    assert review.score == 0.0
    assert _errors(review) == {"false_finding": 3, "wrong_location": 1, "wrong_severity": 1}


def test_empty_text_for_an_abnormal_case_gets_omissions():
    review = review_impression("", CHEST, "xray")
    assert review.score == 7.0
    assert _errors(review) == {"missing_finding": 1}


@pytest.mark.parametrize(
    "generated",
    ["No acute cardiopulmonary abnormality.", "1. Normal chest radiograph.\n2. No pneumothorax.", ""],
)
def test_normal_sounding_impression_of_a_normal_case_scores_full_marks(generated):
    assert review_impression(generated, NORMAL_CHEST, "xray").score == 10.0


def test_custom_weights_are_respected():
    weights = RubricWeights(contradiction=1.0, major_omission=5.0, unsupported_addition=0.5, max_score=20.0)
    assert review_impression("No pneumothorax.", CHEST, "xray", weights).score == 15.0
    generated = "Moderate right pleural effusion. Cardiomegaly."
    assert review_impression(generated, CHEST, "xray", weights).score == 18.5


def test_case_terms_are_read_for_an_unknown_modality():
    truth = json.dumps([_entry("architectural distortion", side="right")])
    assert review_impression("Left architectural distortion.", truth, "mammography").score == 6.0


def test_extract_negation_side_and_severity_per_term():
    terms = ["pleural effusion", "pneumothorax", "atelectasis"]
    assert extract_stated_findings("Moderate left pleural effusion without pneumothorax.", terms) == [
        StatedFinding("pleural effusion", "left", "moderate", False),
        StatedFinding("pneumothorax", None, None, True),
    ]
    assert extract_stated_findings("Left pleural effusion and severe right pneumothorax.", terms) == [
        StatedFinding("pleural effusion", "left", None, False),
        StatedFinding("pneumothorax", "right", "severe", False),
    ]


def test_extract_numbered_items_plurals_synonyms_and_trailing_negation():
    terms = ["pleural effusion", "pneumothorax", "gallstones"]
    text = "1. Small bilateral pleural effusions 2) Pneumothorax is not seen; a gallstone."
    assert extract_stated_findings(text, terms) == [
        StatedFinding("pleural effusion", "bilateral", "mild", False),
        StatedFinding("pneumothorax", None, None, True),
        StatedFinding("gallstones", None, None, False),
    ]


def test_extract_prefers_the_longest_term_and_whole_words():
    terms = ["nodule", "pulmonary nodule", "mass"]
    stated = extract_stated_findings("A right pulmonary nodule. Massive bleeding. No masses.", terms)
    assert stated == [
        StatedFinding("pulmonary nodule", "right", None, False),
        StatedFinding("mass", None, None, True),
    ]


def test_extract_gives_a_side_after_a_term_to_that_term():
    stated = extract_stated_findings(
        "Fracture of the distal right radius, no dislocation.", ["fracture", "dislocation"]
    )
    assert stated == [
        StatedFinding("fracture", "right", None, False),
        StatedFinding("dislocation", None, None, True),
    ]


def test_extract_clause_break_ends_negation():
    stated = extract_stated_findings("No pneumothorax, but a mild infarct.", ["pneumothorax", "infarct"])
    assert [(s.finding, s.negated, s.severity) for s in stated] == [
        ("pneumothorax", True, None),
        ("infarct", False, "mild"),
    ]


def test_review_frame_columns_dtypes_and_order():
    frame = pl.DataFrame(
        {
            "report_id": ["a", "b", "c"],
            "modality": ["xray", "xray", "xray"],
            "ground_truth": [CHEST, CHEST, NORMAL_CHEST],
            "generated": ["Moderate left pleural effusion.", None, "Cardiomegaly."],
        }
    )
    reviews = review_frame(frame)
    assert reviews.columns == ["report_id", "score", *ERROR_CATEGORIES]
    assert reviews.schema["score"] == pl.Float64
    assert all(reviews.schema[c] == pl.Int64 for c in ERROR_CATEGORIES)
    assert reviews["report_id"].to_list() == ["a", "b", "c"]
    assert reviews["score"].to_list() == [10.0, 7.0, 8.0]
    assert reviews["missing_finding"].to_list() == [0, 1, 0]
    assert reviews["false_finding"].to_list() == [0, 0, 1]


def test_review_frame_reads_another_generated_column_and_weights():
    frame = pl.DataFrame(
        {"report_id": ["a"], "modality": ["xray"], "ground_truth": [CHEST], "draft": ["No pneumothorax."]}
    )
    reviews = review_frame(frame, RubricWeights(major_omission=10.0), generated_col="draft")
    assert reviews["score"].to_list() == [0.0]


def test_simulated_review_scores_the_reference_full_marks():
    sample = generate_reports(5, seed=1).with_columns(pl.col("impression").alias("generated"))
    reviewed = simulated_review(sample, ReviewConfig())
    assert reviewed["score"].to_list() == [10.0] * 5
    assert set(ERROR_CATEGORIES) <= set(reviewed.columns)
    assert reviewed["review_source"].unique().to_list() == ["simulated"]
    assert reviewed["report_id"].to_list() == sample["report_id"].to_list()
