"""Pairwise review: two variants' impressions of one report, sides drawn per reviewer, answers turned back into
A / B, summarised overall and by the reference impression's length; the page driven with the keyboard."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from radimpress.review.app import create_app
from radimpress.review.pairwise import PairwiseReview, pairwise_summary
from radimpress.review.store import ReviewInputError, ReviewStore, StaleAnswer
from tests.review.conftest import VARIANTS, review_sample
from tests.review.test_app import CHROMIUM, CHROMIUM_ARGS, Server

N_REPORTS = 12


def _review(tmp_path) -> tuple[ReviewStore, PairwiseReview]:
    sample = review_sample(N_REPORTS)
    store = ReviewStore(tmp_path / "review.sqlite")
    store.publish(sample, ["alice", "bob"], 0.0, seed=0)
    pairwise = PairwiseReview(store)
    a, b = (sample.filter(pl.col("variant_id") == v) for v in VARIANTS)
    assert pairwise.publish(a, b, ["alice", "bob"], n_pairs=50, seed=0) == N_REPORTS
    assert pairwise.publish(a, b, ["alice", "bob"], n_pairs=50, seed=0) == 0  # idempotent
    return store, pairwise


def _truth(store: ReviewStore, pair_id: str) -> tuple[str, str]:
    with store._connect() as db:
        return db.execute("select generated_a, generated_b from pairs where pair_id = ?", (pair_id,)).fetchone()


def test_sides_are_drawn_per_reviewer_and_answers_come_back_as_a_or_b(tmp_path):
    store, pairwise = _review(tmp_path)
    sides = {"alice": [], "bob": []}
    for reviewer in sides:
        for position in range(N_REPORTS):
            view = pairwise.view(reviewer, position)
            text_a, _ = _truth(store, view["item"]["pair_id"])
            a_left = view["item"]["left"] == text_a
            sides[reviewer].append(a_left)
            # The reviewer always prefers the complete impression (variant A copies the reference).
            pairwise.submit(reviewer, view["item"]["pair_id"], "left" if a_left else "right", ["more_complete"], 0)
    assert 0 < sum(sides["alice"]) < N_REPORTS  # both sides occur
    answers = pairwise.answers()
    assert answers.height == 2 * N_REPORTS and set(answers["preferred"]) == {"a"}
    summary = pairwise_summary(answers)
    overall = summary.filter(pl.col("Reference length") == "all").row(0, named=True)
    assert (overall["A"], overall["B"]) == VARIANTS
    assert (overall["A better"], overall["Equal"], overall["B better"]) == (24, 0, 0) and overall["more_complete"] == 24
    bands = summary.filter(pl.col("Reference length") != "all")
    assert bands["Answers"].sum() == 24 and set(bands["Reference length"]) <= {"short", "medium", "long"}
    view = pairwise.view("alice", 0)  # the stored answer shows on the side it was given on
    assert view["answer"]["choice"] == ("left" if sides["alice"][0] else "right")


def test_bad_or_stale_pairwise_answers_are_refused(tmp_path):
    store, pairwise = _review(tmp_path)
    pair = pairwise.view("alice", 0)["item"]["pair_id"]
    with pytest.raises(ReviewInputError, match="choice 'better' must be one of"):
        pairwise.submit("alice", pair, "better", [], 0)
    with pytest.raises(ReviewInputError, match="unknown reasons \\['shorter'\\]"):
        pairwise.submit("alice", pair, "left", ["shorter"], 0)
    pairwise.submit("alice", pair, "equal", [], 0)
    with pytest.raises(StaleAnswer):
        pairwise.submit("alice", pair, "left", [], 0)
    assert pairwise.answers()["preferred"].to_list() == ["equal"]


def test_the_pairwise_api_never_names_a_variant(tmp_path):
    store, _ = _review(tmp_path)
    client = TestClient(create_app(store.path))
    token = store.reviewers()[0].token
    bodies = [client.get(f"/compare/{token}").text, client.get(f"/api/compare/{token}").text]
    for position in range(N_REPORTS):
        view = client.get(f"/api/compare/{token}/items/{position}")
        bodies.append(view.text)
        answer = {"pair_id": view.json()["item"]["pair_id"], "choice": "right", "version": 0}
        bodies.append(client.post(f"/api/compare/{token}/answers", json=answer).text)
    assert not [
        word for body in bodies for word in [*VARIANTS, "tiny-llama", "tiny-mistral", "variant"] if word in body
    ]
    assert client.get(f"/api/compare/{token}/items/99").status_code == 404


@pytest.mark.skipif(not Path(CHROMIUM).exists() and shutil.which("chromium") is None, reason="no chromium")
def test_a_reviewer_compares_pairs_with_the_keyboard(tmp_path):
    from playwright.sync_api import sync_playwright

    store, pairwise = _review(tmp_path)
    alice = next(r for r in store.reviewers() if r.name == "alice")
    server = Server(store.path)
    server.start(alice.token)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"{server.url}/compare/{alice.token}")
            typed = {}
            for keys, choice, reasons in (
                ("1e", "left", ["fewer_errors"]),
                ("2", "equal", []),
                ("3cs", "right", ["more_complete", "more_concise"]),
            ):
                page.wait_for_selector("body[data-pair-id]")
                pair = page.locator("body").get_attribute("data-pair-id")
                for key in keys:
                    page.keyboard.press(key)
                page.keyboard.press("Enter")
                page.wait_for_function(f"document.body.dataset.pairId !== {json.dumps(pair)}")
                typed[pair] = (choice, reasons)
            browser.close()
    finally:
        server.kill()
    for pair, (choice, reasons) in typed.items():
        view = next(
            pairwise.view("alice", p) for p in range(N_REPORTS) if pairwise.view("alice", p)["item"]["pair_id"] == pair
        )
        assert (view["answer"]["choice"], view["answer"]["reasons"]) == (choice, sorted(reasons))
