import random

import polars as pl
import pytest

from radimpress.evaluation.perturb import (
    EDITS,
    join_statements,
    perturb,
    perturbation_pairs,
    split_statements,
)
from radimpress.review.rubric import DEFAULT_WEIGHTS, ERROR_CATEGORIES
from radimpress.sim.synthetic import generate_reports

IMPRESSION = "1. Moderate left pleural effusion.\n2. No pneumothorax."
FINDINGS = "There is a moderate left pleural effusion. No pneumothorax. The heart is normal in size."
POOL = ["Moderate left pleural effusion.", "A right hip fracture.", "No pneumothorax."]


def _edit(name: str, impression: str = IMPRESSION, findings: str = FINDINGS, seed: int = 0):
    statements, numbered = split_statements(impression)
    context = {"findings": findings, "pool": POOL, "reference": list(statements)}
    edited = EDITS[name](statements, set(range(len(statements))), random.Random(seed), context, DEFAULT_WEIGHTS)
    if edited is None:
        return None
    new, errors, _, _ = edited
    return join_statements(new, numbered), errors


def test_statements_split_and_join_back():
    assert split_statements(IMPRESSION) == (["Moderate left pleural effusion.", "No pneumothorax."], True)
    assert split_statements("A. B.") == (["A.", "B."], False)
    assert join_statements(*split_statements(IMPRESSION)) == IMPRESSION


@pytest.mark.parametrize(
    ("name", "seed", "expected", "errors"),
    [
        ("swap_side", 0, "1. Moderate right pleural effusion.\n2. No pneumothorax.", [("wrong_location", 4.0, True)]),
        ("change_severity", 0, "1. Mild left pleural effusion.\n2. No pneumothorax.", [("wrong_severity", 4.0, True)]),
        ("add_finding", 0, IMPRESSION + "\n3. A right hip fracture.", [("false_finding", 2.0, False)]),
        ("add_comparison", 0, None, [("unsupported_comparison", 2.0, False)]),
    ],
)
def test_each_edit_changes_exactly_what_it_claims(name, seed, expected, errors):
    text, found = _edit(name, seed=seed)
    assert found == errors
    if expected is not None:
        assert text == expected
    else:
        assert text.startswith(IMPRESSION + "\n3. ") and ("prior" in text or "previous" in text)


def test_negation_goes_both_ways():
    statements = {_edit("negate", seed=seed)[0] for seed in range(20)}
    assert statements == {
        "1. No moderate left pleural effusion.\n2. No pneumothorax.",
        "1. Moderate left pleural effusion.\n2. Pneumothorax.",
    }
    assert _edit("negate")[1] == [("false_finding", 4.0, True)]
    assert _edit("negate", "Normal chest radiograph.") is None  # a normal statement has no finding to flip


def test_dropping_a_finding_is_a_major_omission_and_never_leaves_nothing():
    assert _edit("drop_finding") == ("1. No pneumothorax.", [("missing_finding", 3.0, True)])
    assert _edit("drop_finding", "Moderate left pleural effusion.") is None


def test_an_added_finding_in_a_normal_study_is_a_contradiction():
    text, errors = _edit("add_finding", "No acute cardiopulmonary abnormality.", "The lungs are clear.")
    assert errors == [("false_finding", 4.0, True)]
    assert "fracture" in text or "effusion" in text


def test_an_addition_the_findings_mention_is_not_drawn():
    assert _edit("add_finding", findings=FINDINGS + " Old right hip fracture.", seed=0) is None


def test_a_comparison_is_dropped_only_where_there_is_one():
    with_comparison = "1. Moderate left pleural effusion.\n2. Unchanged from the prior study."
    assert _edit("drop_comparison", with_comparison) == (
        "1. Moderate left pleural effusion.",
        [("omitted_comparison", 1.0, False)],
    )
    assert _edit("drop_comparison") is None
    assert _edit("add_comparison", with_comparison) is None


def test_a_rewording_has_no_error():
    assert _edit("reword", "No evidence of pneumothorax.") == ("No pneumothorax.", [])


def test_edits_never_touch_the_same_statement_twice():
    for seed in range(200):
        result = perturb(IMPRESSION, FINDINGS, POOL, random.Random(seed), 3)
        in_place = [k for k in result.kinds if k in ("negate", "swap_side", "change_severity", "reword")]
        assert len(in_place) <= 2, result  # two statements to edit in place
        assert len(set(result.kinds)) == len(result.kinds)


def test_pairs_from_a_training_split_are_labelled_by_the_rubric():
    train = generate_reports(200, seed=3)
    pairs = perturbation_pairs(train, 300, seed=0)
    assert pairs.height == 300 and set(pairs["reference"]) <= set(train["impression"])
    expected = 10 - (
        4 * (pairs["wrong_location"] + pairs["wrong_severity"])
        + 3 * pairs["missing_finding"]
        + 2 * pairs["unsupported_comparison"]
        + pairs["omitted_comparison"]
    )
    # false_finding is 4 (contradiction) or 2 (addition): the score lies between those two readings
    low = (expected - 4 * pairs["false_finding"]).clip(lower_bound=0)
    high = (expected - 2 * pairs["false_finding"]).clip(lower_bound=0)
    assert ((pairs["score"] >= low) & (pairs["score"] <= high)).all()
    assert (pairs.filter(pl.col("kinds").is_in(["", "reword"]))["score"] == 10).all()
    assert pairs["score"].n_unique() >= 6  # a spread of scores to learn from, not just 10s
    assert set(ERROR_CATEGORIES) <= set(pairs.columns)
    assert pairs.equals(perturbation_pairs(train, 300, seed=0))  # seeded
