import json

import polars as pl
import pytest

from radimpress.config import ReviewConfig
from radimpress.review.rubric import ERROR_CATEGORIES, RubricWeights, significant_column
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


@pytest.mark.parametrize("generated", ["", "1.", "2)  ...", "   ", None, "1. the the of"])
def test_an_impression_that_says_nothing_usable_misses_everything_and_scores_zero(generated):
    review = review_impression(generated, CHEST, "xray")
    assert review.score == 0.0
    assert _errors(review) == {"missing_finding": 2}  # the effusion and the stated-absent pneumothorax
    assert review.uninterpretable == 1 and review.significant == 2


def test_nothing_usable_scores_zero_for_a_normal_study_too():
    """'1.' against 'No significant abnormality.' once scored 10: saying nothing is not saying 'normal'."""
    review = review_impression("1.", NORMAL_CHEST, "xray")
    assert review.score == 0.0 and _errors(review) == {"missing_finding": 1}


@pytest.mark.parametrize(
    "generated", ["No acute cardiopulmonary abnormality.", "1. Normal chest radiograph.\n2. No pneumothorax."]
)
def test_normal_sounding_impression_of_a_normal_case_scores_full_marks(generated):
    review = review_impression(generated, NORMAL_CHEST, "xray")
    assert review.score == 10.0 and review.uninterpretable == 0


def test_a_finding_claimed_in_a_normal_study_is_a_significant_false_finding():
    """'1. A mass in the left basal ganglia. 2. No evidence of infarct.' against a normal brain once scored 8."""
    normal_brain = json.dumps([_entry("hemorrhage", negated=True)])
    review = review_impression("1. A mass in the left basal ganglia.\n2. No hemorrhage.", normal_brain, "mri")
    assert review.score == 6.0 and _errors(review) == {"false_finding": 1} and review.significant == 1


def test_a_finding_the_findings_deny_is_a_contradiction_not_an_addition():
    truth = json.dumps(
        [_entry("pleural effusion", side="left"), _entry("pneumothorax", negated=True, in_impression=False)]
    )
    review = review_impression("Left pleural effusion. Small pneumothorax.", truth, "xray")
    assert review.score == 6.0 and review.significant == 1


def test_an_impossible_spinal_level_is_a_wrong_location():
    """'A right disc herniation at L4-L4.' against a normal study once scored 8."""
    normal_spine = json.dumps([_entry("spinal stenosis", negated=True)])
    review = review_impression("A right disc herniation at L4-L4.", normal_spine, "mri")
    assert _errors(review) == {"false_finding": 1, "wrong_location": 1}
    assert review.score == 2.0 and review.significant == 2
    for possible in ("L4-L5", "L5-S1", "C7-T1", "L4/5"):
        assert review_impression(f"No disc herniation at {possible}.", normal_spine, "mri").score == 10.0, possible
    for impossible in ("L5-L3", "L7-L8", "S1-L5"):
        assert _errors(review_impression(f"No disc herniation at {impossible}.", normal_spine, "mri")) == {
            "wrong_location": 1
        }, impossible


def test_text_it_cannot_interpret_is_counted_and_never_scores_ten():
    review = review_impression("Moderate left pleural effusion. Zebra stripes in the sky.", CHEST, "xray")
    assert review.uninterpretable == 1 and review.score == 8.0  # an unsupported claim
    denial = review_impression("Moderate left pleural effusion. No evidence of wombats.", CHEST, "xray")
    assert denial.uninterpretable == 1 and denial.score == 9.0
    advice = review_impression("Moderate left pleural effusion. Recommend follow-up imaging.", CHEST, "xray")
    assert advice.uninterpretable == 0 and advice.score == 10.0


def test_every_generator_impression_reviewed_against_its_own_case_is_flawless_and_readable():
    """The reference is the rubric's 10 by definition: nothing in it may read as uninterpretable."""
    reports = generate_reports(600, seed=4)
    reviews = review_frame(reports.with_columns(pl.col("impression").alias("generated")))
    unreadable = reports.filter((reviews["score"] < 10) | (reviews["uninterpretable"] > 0))["impression"]
    assert unreadable.to_list() == []


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
    significant = [significant_column(c) for c in ERROR_CATEGORIES]
    assert reviews.columns == [
        "report_id",
        "score",
        *ERROR_CATEGORIES,
        "significant_errors",
        "uninterpretable",
        *significant,
        "usable",
    ]
    assert reviews.schema["score"] == pl.Float64 and reviews.schema["usable"] == pl.Boolean
    counts = (*ERROR_CATEGORIES, "significant_errors", "uninterpretable", *significant)
    assert all(reviews.schema[c] == pl.Int64 for c in counts)
    assert reviews["report_id"].to_list() == ["a", "b", "c"]
    assert reviews["score"].to_list() == [10.0, 0.0, 6.0]  # nothing said; cardiomegaly in a normal study
    assert reviews["missing_finding"].to_list() == [0, 2, 0]
    assert reviews["false_finding"].to_list() == [0, 0, 1]
    assert reviews["uninterpretable"].to_list() == [0, 1, 0]
    # nothing usable: both reference findings missed, both significant; cardiomegaly contradicts a normal study
    assert reviews["usable"].to_list() == [True, False, True]
    assert reviews["missing_finding_significant"].to_list() == [0, 2, 0]
    assert reviews["false_finding_significant"].to_list() == [0, 0, 1]
    assert (reviews.select(significant).sum_horizontal() == reviews["significant_errors"]).all()


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
