"""The review page as reviewers use it: a real `radimpress review serve`, Debian's chromium driven by Playwright with
the keyboard only, two reviewers at once, and the server SIGKILLed and restarted half-way."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from radimpress.review.app import create_app
from radimpress.review.store import ReviewStore

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`radimpress review serve` in its own process, as a lead reviewer starts it."""

    def __init__(self, store: Path):
        self.store, self.port = store, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, token: str) -> None:
        command = [str(ROOT / ".venv/bin/radimpress"), "review", "serve", "--store", str(self.store)]
        self.process = subprocess.Popen([*command, "--port", str(self.port)], stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/api/review/{token}").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise TimeoutError("the review server did not start")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def review(tmp_path, sample):
    store = ReviewStore(tmp_path / "review.sqlite")
    store.publish(sample, ["alice", "bob"], 0.5, seed=1, lead="alice")
    server = Server(store.path)
    server.start(store.reviewers()[0].token)
    yield store, server
    if server.process.poll() is None:
        server.kill()


def _score_with_keyboard(page, score: int, keys: str, comment: str) -> str:
    """Score the item on the page as a reviewer would; return its id."""
    item_id = page.locator("body").get_attribute("data-item-id")
    for digit in str(score):
        page.keyboard.press(digit)
    for key in keys:
        page.keyboard.press(key)
    if comment:
        page.keyboard.press("c")
        page.keyboard.type(comment)
        page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.body.dataset.itemId !== {json.dumps(item_id)}")
    return item_id


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_two_reviewers_score_with_the_keyboard_through_a_server_kill_and_lose_nothing(review):
    from playwright.sync_api import sync_playwright

    store, server = review
    links = {r.name: f"{server.url}/review/{r.token}" for r in store.reviewers()}
    typed: dict[tuple[str, str], tuple[int, dict, str]] = {}
    plans = {  # (score, keys pressed after it, comment): "f" once = significant, "ll" twice = not significant
        "alice": [(10, "", ""), (7, "f", "side is wrong"), (3, "fll", ""), (0, "m", ""), (9, "", "fine")],
        "bob": [(8, "s", ""), (6, "uu", "comparison not in findings"), (10, "", "")],
    }
    meaning = {"f": "false_finding", "l": "wrong_location", "m": "missing_finding", "s": "wrong_severity"}
    meaning |= {"u": "unsupported_comparison", "o": "omitted_comparison"}

    def expected_errors(keys: str) -> dict:
        presses = {key: keys.count(key) for key in set(keys)}
        states = {1: "significant", 2: "not_significant"}
        return {meaning[k]: states[n] for k, n in presses.items() if n % 3}

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = {name: browser.new_context().new_page() for name in links}
        for name, page in pages.items():
            page.goto(links[name])
            page.wait_for_selector("body[data-item-id]")

        def score_round(rounds):
            for name, plan in rounds.items():
                for score, keys, comment in plan:
                    item = _score_with_keyboard(pages[name], score, keys, comment)
                    typed[name, item] = (score, expected_errors(keys), comment)

        score_round(plans)  # alice 5 items, bob 3, interleaved by reviewer
        assert "5 of 11 answered" in pages["alice"].locator("#progress").inner_text()
        server.kill()  # mid-review: SIGKILL, no chance to flush anything
        server.start(store.reviewers()[0].token)
        for name, page in pages.items():
            page.reload()  # resumes at the first unanswered item
            page.wait_for_selector("body[data-item-id]")
            done = sum(1 for (who, _) in typed if who == name)
            assert page.locator("body").get_attribute("data-item-id") == store.assignment(name)[done]
        score_round(
            {"alice": [(5, "o", ""), (4, "", ""), (2, "mm", ""), (8, "", ""), (6, "s", "")], "bob": [(1, "", "")]}
        )
        # Back one item with the keyboard: the stored answer shows, and changing it stores version 2.
        alice = pages["alice"]
        alice.keyboard.press("b")
        last = store.assignment("alice")[9]
        alice.wait_for_function(f"document.body.dataset.itemId === {json.dumps(last)}")
        assert alice.locator("#score").input_value() == "6"
        alice.keyboard.press("Backspace")
        alice.keyboard.press("7")
        alice.keyboard.press("Enter")
        alice.wait_for_function("document.getElementById('progress').textContent.includes('11 of 11')")
        typed["alice", last] = (7, {"wrong_severity": "significant"}, "")
        progress = alice.locator("#progress").inner_text()
        browser.close()

    assert "10 of 11 answered" in progress
    stored = {
        (row["reviewer"], row["item_id"]): (row["score"], json.loads(row["errors"]), row["comment"])
        for row in store.answers().iter_rows(named=True)
    }
    assert stored == typed  # exactly what was typed, nothing lost across the kill
    assert store.answer("alice", last).version == 2


def test_no_response_of_the_app_names_a_model_variant_or_run(tmp_path, sample):
    store = ReviewStore(tmp_path / "review.sqlite")
    store.publish(sample, ["alice", "bob"], 0.5, seed=1)
    client = TestClient(create_app(store.path))
    forbidden = [*sample["variant_id"].unique(), "tiny-llama", "tiny-mistral", "variant", "run_id"]
    bodies = []
    for reviewer in store.reviewers():
        bodies += [client.get(f"/review/{reviewer.token}").text, client.get(f"/api/review/{reviewer.token}").text]
        for position, item_id in enumerate(store.assignment(reviewer.name)):
            bodies.append(client.get(f"/api/review/{reviewer.token}/items/{position}").text)
            answer = {"item_id": item_id, "score": 5, "errors": {}, "comment": "", "version": 0}
            bodies.append(client.post(f"/api/review/{reviewer.token}/answers", json=answer).text)
        bodies.append(client.get(f"/api/review/{reviewer.token}/items/99").text)
    assert store.missing() == 0
    leaks = [(word, body[:80]) for body in bodies for word in forbidden if word in body]
    assert leaks == []


def test_bad_requests_get_a_clear_status_and_message_and_store_nothing(tmp_path, sample):
    store = ReviewStore(tmp_path / "review.sqlite")
    store.publish(sample, ["alice"], 0.0, seed=1)
    client = TestClient(create_app(store.path))
    token, item = store.reviewers()[0].token, store.assignment("alice")[0]

    def post(**changes):
        return client.post(f"/api/review/{token}/answers", json={"item_id": item, "score": 5, "version": 0} | changes)

    eleven = post(score=11)
    assert eleven.status_code == 422 and "not a whole number from 0 to 10" in eleven.json()["detail"]
    unknown_link = client.get("/review/not-a-token")
    assert unknown_link.status_code == 404 and "unknown review link" in unknown_link.json()["detail"]
    missing_item = post(item_id="ffffffffffffffff")
    assert missing_item.status_code == 404 and "not in alice's review set" in missing_item.json()["detail"]
    assert client.get(f"/api/review/{token}/items/40").status_code == 404
    assert store.answers().height == 0
    assert post().status_code == 200
    double = post()  # the same page submitted again
    assert double.status_code == 409 and "reload it" in double.json()["detail"]
    assert store.answer("alice", item).version == 1


def test_only_the_lead_reviewer_may_resume_and_is_told_when_no_run_waits(tmp_path, sample):
    store = ReviewStore(tmp_path / "review.sqlite")
    store.publish(sample, ["alice", "bob"], 0.5, seed=1, lead="alice")
    client = TestClient(create_app(store.path))
    tokens = {r.name: r.token for r in store.reviewers()}
    assert client.get(f"/api/review/{tokens['alice']}").json()["missing_overall"] == 21
    assert "missing_overall" not in client.get(f"/api/review/{tokens['bob']}").json()
    refused = client.post(f"/api/review/{tokens['bob']}/resume")
    assert refused.status_code == 403 and "only the lead reviewer" in refused.json()["detail"]
    nothing = client.post(f"/api/review/{tokens['alice']}/resume")
    assert nothing.status_code == 422 and "no flow run is waiting" in nothing.json()["detail"]


def test_links_name_each_reviewer_with_their_progress_on_localhost(review):
    store, server = review
    out = subprocess.run(
        [str(ROOT / ".venv/bin/radimpress"), "review", "links", "--store", str(store.path)],
        capture_output=True,
        text=True,
        env=os.environ,
        check=True,
    ).stdout
    assert "alice (lead): http://127.0.0.1:8765/review/" in out and "0 of 11 answered" in out
