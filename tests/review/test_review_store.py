"""The review store: blinded assignments, answers committed as given, stale pages refused, spreadsheets validated."""

from __future__ import annotations

import json
import sqlite3

import polars as pl
import pytest

from radimpress.review.store import (
    ReviewInputError,
    ReviewStore,
    StaleAnswer,
    UnknownItem,
    UnknownReviewer,
    item_key,
)


def _store(tmp_path, sample, reviewers=("alice", "bob"), share=0.5) -> ReviewStore:
    store = ReviewStore(tmp_path / "review.sqlite")
    store.publish(sample, list(reviewers), share, seed=3, lead="alice")
    return store


def test_calibration_items_go_to_everyone_and_each_reviewer_has_an_own_order(tmp_path, sample):
    store = _store(tmp_path, sample)
    alice, bob = store.assignment("alice"), store.assignment("bob")
    assert len(set(alice) | set(bob)) == 14  # 7 reports x 2 variants, all distinct texts
    shared = set(alice) & set(bob)
    assert len(shared) == 7  # half of 14: the calibration set
    assert sorted([len(alice), len(bob)]) == [10, 11]  # the other 7 dealt out in turn
    assert [i for i in alice if i in shared] != [i for i in bob if i in shared]  # orders differ
    again = ReviewStore(tmp_path / "review.sqlite")
    again.publish(sample, ["alice", "bob"], 0.5, seed=3, lead="alice")  # publishing again changes nothing
    assert again.assignment("alice") == alice and again.assignment("bob") == bob
    assert [r.lead for r in store.reviewers()] == [True, False]
    with sqlite3.connect(store.path) as db:
        assert db.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_items_are_keyed_by_their_text_so_a_regenerated_impression_is_a_new_item(tmp_path, sample):
    store = _store(tmp_path, sample, reviewers=("alice",))
    first = store.assignment("alice")
    regenerated = sample.with_columns(pl.col("generated") + " Unchanged.")
    store.publish(regenerated, ["alice"], 0.5, seed=3)
    assert len(store.assignment("alice")) == 28 and store.assignment("alice")[:14] == first
    row = sample.row(0, named=True)
    assert item_key(row["findings"], row["reference"], row["generated"]) in first


def test_a_stale_page_or_double_submit_never_overwrites_a_newer_answer(tmp_path, sample):
    store = _store(tmp_path, sample)
    item = store.assignment("alice")[0]
    first = store.submit("alice", item, 7, {"false_finding": "significant"}, "left, not right", version=0)
    assert first.version == 1
    with pytest.raises(StaleAnswer, match="newer than this page's 0"):
        store.submit("alice", item, 3, {}, "", version=0)  # the same page submitted twice
    second = store.submit("alice", item, 8, {}, "", version=1)
    assert second.version == 2 and store.answer("alice", item).score == 8
    reopened = ReviewStore(store.path)  # what a restarted server sees
    assert reopened.answer("alice", item) == second


@pytest.mark.parametrize(
    ("score", "errors", "message"),
    [
        (11, {}, "not a whole number from 0 to 10"),
        (-1, {}, "not a whole number from 0 to 10"),
        (6.5, {}, "not a whole number from 0 to 10"),
        ("seven", {}, "not a number from 0 to 10"),
        (5, {"typo": "significant"}, "unknown error categories \\['typo'\\]"),
        (5, {"false_finding": "major"}, "must be one of"),
    ],
)
def test_bad_answers_are_refused_with_the_reason_and_nothing_is_stored(tmp_path, sample, score, errors, message):
    store = _store(tmp_path, sample)
    item = store.assignment("alice")[0]
    with pytest.raises(ReviewInputError, match=message):
        store.submit("alice", item, score, errors, "", version=0)
    assert store.answers().height == 0


def test_unknown_links_and_items_are_refused(tmp_path, sample):
    store = _store(tmp_path, sample)
    with pytest.raises(UnknownReviewer, match="unknown review link"):
        store.reviewer("not-a-token")
    with pytest.raises(UnknownItem, match="not in alice's review set"):
        store.submit("alice", "0" * 16, 5, {}, "", version=0)
    bobs_only = next(i for i in store.assignment("bob") if i not in store.assignment("alice"))
    with pytest.raises(UnknownItem):
        store.submit("alice", bobs_only, 5, {}, "", version=0)


def test_a_filled_sheet_round_trips_and_a_bad_one_stores_nothing(tmp_path, sample):
    store = _store(tmp_path, sample)
    sheet = store.export_sheet("alice", tmp_path / "alice.csv")
    exported = pl.read_csv(sheet, infer_schema=False)
    assert "variant_id" not in exported.columns and "report_id" not in exported.columns  # blinded
    assert not any(v in sheet.read_text() for v in sample["variant_id"].unique())
    filled = exported.with_columns(
        pl.Series("score", [str(i % 11) for i in range(exported.height)]),
        pl.Series("wrong_location", ["significant"] + [None] * (exported.height - 1)),
    )
    filled.head(3).write_csv(tmp_path / "bad_score.csv")
    pl.read_csv(tmp_path / "bad_score.csv", infer_schema=False).with_columns(
        pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("11")).otherwise(pl.col("score")).alias("score")
    ).write_csv(tmp_path / "bad_score.csv")
    with pytest.raises(ReviewInputError, match="bad_score.csv line 4: score '11' is not a whole number"):
        store.import_sheet("alice", tmp_path / "bad_score.csv")
    pl.concat([filled.head(2), filled.head(1)]).write_csv(tmp_path / "duplicated.csv")
    with pytest.raises(ReviewInputError, match="on more than one row"):
        store.import_sheet("alice", tmp_path / "duplicated.csv")
    filled.drop("score").write_csv(tmp_path / "no_score.csv")
    with pytest.raises(ReviewInputError, match="lacks the column\\(s\\) \\['score'\\]"):
        store.import_sheet("alice", tmp_path / "no_score.csv")
    assert store.answers().height == 0  # every refused sheet left nothing behind
    assert store.import_sheet("alice", tmp_path / "alice.csv") == 0  # empty scores: nothing reviewed yet
    filled.write_csv(tmp_path / "filled.csv")
    assert store.import_sheet("alice", tmp_path / "filled.csv") == exported.height
    answers = store.answers().filter(pl.col("reviewer") == "alice").sort("item_id")
    expected = filled.sort("item_id")
    assert answers["score"].to_list() == [int(s) for s in expected["score"]]
    first = expected.row(0, named=True)
    assert json.loads(answers.row(0, named=True)["errors"]) == (
        {"wrong_location": "significant"} if first["wrong_location"] else {}
    )
