"""The review sample and the reviewers' scores read back for it: seeded, complete, validated."""

import json

import polars as pl
import pytest

from radimpress.config import ReviewConfig
from radimpress.errors import ReviewScoresMissingError
from radimpress.evaluation.judge import labelled_errors
from radimpress.review.rubric import ERROR_CATEGORIES, significant_column
from radimpress.review.sheet import REVIEW_COLUMNS, reviewer_scores, reviewers_errors, sample_for_review

GENERATIONS = pl.DataFrame(
    {
        "variant_id": ["v1", "v1", "v2", "v2"],
        "report_id": ["1", "2", "1", "2"],
        "modality": ["mri"] * 4,
        "findings": ["Findings, with a comma.", "F2.", "Findings, with a comma.", "F2."],
        "reference": ["R1.", "R2.", "R1.", "R2."],
        "generated": ["G1a.", "G2a.", "G1b.", "G2b."],
        "impression": ["R1.", "R2.", "R1.", "R2."],
    }
)


def test_sample_for_review_is_seeded_and_capped():
    assert sample_for_review(GENERATIONS, 3, seed=0).equals(sample_for_review(GENERATIONS, 3, seed=0))
    assert sample_for_review(GENERATIONS, 3, seed=0).height == 3
    assert sample_for_review(GENERATIONS, 100, seed=0).height == GENERATIONS.height


def test_without_scores_the_review_sheet_is_written_and_the_error_names_it(tmp_path):
    sheet = tmp_path / "review_sheet.csv"
    with pytest.raises(ReviewScoresMissingError) as caught:
        reviewer_scores(GENERATIONS, ReviewConfig(source="file"), sheet)
    assert str(sheet) in str(caught.value)
    assert "\n" not in str(caught.value)
    written = pl.read_csv(sheet, schema_overrides={"report_id": pl.String})
    assert written.columns == [*REVIEW_COLUMNS, "score"]
    assert written.drop("score").equals(GENERATIONS.select(REVIEW_COLUMNS))
    assert written["score"].null_count() == GENERATIONS.height


def test_complete_reviewer_scores_are_joined(tmp_path):
    scores_file = tmp_path / "scores.csv"
    pl.DataFrame({"report_id": [2, 1, 2, 1], "variant_id": ["v2", "v2", "v1", "v1"], "score": [4, 9, 7, 10]}).write_csv(
        scores_file
    )
    reviewed = reviewer_scores(GENERATIONS, ReviewConfig(source="file", scores_file=scores_file), tmp_path / "s.csv")
    assert reviewed.height == GENERATIONS.height
    by_key = {(v, r): s for v, r, s in reviewed.select("variant_id", "report_id", "score").iter_rows()}
    assert by_key == {("v1", "1"): 10.0, ("v1", "2"): 7.0, ("v2", "1"): 9.0, ("v2", "2"): 4.0}
    assert reviewed["generated"].to_list() == GENERATIONS["generated"].to_list()
    assert reviewed["review_source"].unique().to_list() == ["reviewers"]


def test_incomplete_reviewer_scores_say_how_many_are_missing(tmp_path):
    scores_file = tmp_path / "scores.csv"
    pl.DataFrame({"report_id": ["1", "2", "1"], "variant_id": ["v1", "v1", "v2"], "score": [1.0, None, 3.0]}).write_csv(
        scores_file
    )
    with pytest.raises(ReviewScoresMissingError, match="scores 2 of the 4 sampled impressions"):
        reviewer_scores(GENERATIONS, ReviewConfig(source="file", scores_file=scores_file), tmp_path / "s.csv")


def test_reviewer_scores_reject_duplicates_and_out_of_range(tmp_path):
    sample = pl.DataFrame({c: ["v", "v"] if c == "variant_id" else ["1", "2"] for c in REVIEW_COLUMNS if c != "score"})
    for rows, message in (("v,1,5\nv,1,6\nv,2,5\n", "more than once"), ("v,1,5\nv,2,85\n", "outside the rubric")):
        scores = tmp_path / "scores.csv"
        scores.write_text("variant_id,report_id,score\n" + rows)
        cfg = ReviewConfig(source="file", scores_file=scores)
        with pytest.raises(ReviewScoresMissingError, match=message):
            reviewer_scores(sample, cfg, tmp_path / "sheet.csv")


def _answers(rows: list[tuple[str, dict]]) -> pl.DataFrame:
    """A review store's answers frame: item id and the JSON of its ticked categories (score and the rest unused)."""
    return pl.DataFrame({"item_id": [item for item, _ in rows], "errors": [json.dumps(errors) for _, errors in rows]})


def test_reviewers_ticks_become_the_judges_error_counts():
    answers = _answers(
        [
            ("tie", {"false_finding": "significant"}),  # one of two reviewers: a tie keeps the error
            ("tie", {}),
            ("minority", {"wrong_location": "significant"}),  # one of three: not counted
            ("minority", {}),
            ("minority", {}),
            ("split", {"missing_finding": "significant"}),  # both tick it, one calls it significant: significant
            ("split", {"missing_finding": "not_significant"}),
            ("minor", {"wrong_severity": "not_significant"}),
            ("minor", {"wrong_severity": "not_significant"}),
        ]
    )
    errors = {row["item_id"]: row for row in reviewers_errors(answers).iter_rows(named=True)}
    assert set(errors) == {"tie", "minority", "split", "minor"}
    counted = {
        item: {c: (row[c], row[significant_column(c)]) for c in ERROR_CATEGORIES if row[c]}
        for item, row in errors.items()
    }
    assert counted == {
        "tie": {"false_finding": (1, 1)},
        "minority": {},
        "split": {"missing_finding": (1, 1)},
        "minor": {"wrong_severity": (1, 0)},
    }
    # What the judge reads from them: (significant, minor) per category, and a row with no error is labelled too.
    assert labelled_errors(pl.DataFrame(list(errors.values()))) == [
        {"false_finding": (1, 0)},
        {},
        {"missing_finding": (1, 0)},
        {"wrong_severity": (0, 1)},
    ]


def test_reviewers_who_never_tick_a_category_give_scores_only():
    assert reviewers_errors(_answers([("a", {}), ("a", {}), ("b", {})])) is None
