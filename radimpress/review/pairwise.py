"""Pairwise review (the study's manual comparison): two models' impressions of the same report side by side, in a
random left / right order per reviewer; the reviewer says which is better, or that they are equal, and why.

Kept in the review store's file, in tables of its own. Which model wrote which side is stored server-side only;
the page sees "left" and "right", and the answer is turned back into A / B here.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime

import polars as pl

from radimpress.review.store import ReviewInputError, ReviewStore, StaleAnswer, UnknownItem

CHOICES = ("left", "equal", "right")
REASONS = ("fewer_errors", "more_complete", "more_concise", "clearer")
LENGTH_BANDS = ("short", "medium", "long")  # thirds of the reference impressions' word counts
SCHEMA = """
create table if not exists pairs (
    pair_id text primary key, clinical_information text not null, findings text not null, reference text not null,
    generated_a text not null, generated_b text not null, variant_a text not null, variant_b text not null,
    report_id text not null, reference_words integer not null);
create table if not exists pair_assignments (
    reviewer text not null, position integer not null, pair_id text not null references pairs,
    a_on_left integer not null, primary key (reviewer, position), unique (reviewer, pair_id));
create table if not exists pair_answers (
    reviewer text not null, pair_id text not null, preferred text not null check (preferred in ('a', 'equal', 'b')),
    reasons text not null, version integer not null, answered_at text not null, primary key (reviewer, pair_id));
"""


class PairwiseReview:
    """The pairwise part of a review store."""

    def __init__(self, store: ReviewStore):
        self.store = store
        with store._connect() as db:
            db.executescript(SCHEMA)

    def publish(self, a: pl.DataFrame, b: pl.DataFrame, reviewers: list[str], n_pairs: int, seed: int) -> int:
        """Pair variant A's and B's impressions of the same reports (those that differ), sample `n_pairs`, and give
        every reviewer all of them in their own order and their own left / right sides. Returns the pairs added."""
        pairs = _pairs(a, b)
        chosen = random.Random(seed).sample(pairs, min(n_pairs, len(pairs)))
        with self.store._connect() as db:
            db.execute("begin immediate")
            known = {row[0] for row in db.execute("select pair_id from pairs")}
            new = [pair for pair in chosen if pair["pair_id"] not in known]
            db.executemany(
                "insert into pairs values (:pair_id, :clinical_information, :findings, :reference, :generated_a, "
                ":generated_b, :variant_a, :variant_b, :report_id, :reference_words)",
                new,
            )
            for name in reviewers:
                rng = random.Random(f"{seed}:pairwise:{name}")
                order = rng.sample([p["pair_id"] for p in new], len(new))
                first = db.execute(
                    "select coalesce(max(position), -1) + 1 from pair_assignments where reviewer = ?", (name,)
                ).fetchone()[0]
                rows = [(name, first + i, pair_id, int(rng.random() < 0.5)) for i, pair_id in enumerate(order)]
                db.executemany("insert or ignore into pair_assignments values (?, ?, ?, ?)", rows)
            db.execute("commit")
        return len(new)

    def view(self, reviewer: str, position: int) -> dict:
        """What the pairwise page shows at `position`: the texts, left and right, and the reviewer's answer."""
        with self.store._connect() as db:
            row = db.execute(
                "select p.pair_id, p.clinical_information, p.findings, p.reference, p.generated_a, p.generated_b, "
                "a.a_on_left from pair_assignments a join pairs p using (pair_id) where a.reviewer = ? and "
                "a.position = ?",
                (reviewer, position),
            ).fetchone()
            total = db.execute("select count(*) from pair_assignments where reviewer = ?", (reviewer,)).fetchone()[0]
            done = db.execute("select count(*) from pair_answers where reviewer = ?", (reviewer,)).fetchone()[0]
        if row is None:
            raise UnknownItem(f"there is no pair {position + 1}: this pairwise set has {total}")
        pair_id, clinical, findings, reference, text_a, text_b, a_on_left = row
        left, right = (text_a, text_b) if a_on_left else (text_b, text_a)
        item = {"pair_id": pair_id, "clinical_information": clinical, "findings": findings, "reference": reference}
        answer = self.answer(reviewer, pair_id)
        if answer is not None:
            answer = answer | {"choice": _side(answer.pop("preferred"), bool(a_on_left))}
        return {
            "position": position,
            "done": done,
            "total": total,
            "item": item | {"left": left, "right": right},
            "answer": answer,
        }

    def answer(self, reviewer: str, pair_id: str) -> dict | None:
        with self.store._connect() as db:
            row = db.execute(
                "select preferred, reasons, version from pair_answers where reviewer = ? and pair_id = ?",
                (reviewer, pair_id),
            ).fetchone()
        return {"preferred": row[0], "reasons": json.loads(row[1]), "version": row[2]} if row else None

    def first_unanswered(self, reviewer: str) -> int:
        with self.store._connect() as db:
            row = db.execute(
                "select min(position) from pair_assignments a where reviewer = ? and not exists (select 1 from "
                "pair_answers b where b.reviewer = a.reviewer and b.pair_id = a.pair_id)",
                (reviewer,),
            ).fetchone()
        return row[0] if row[0] is not None else 0

    def submit(self, reviewer: str, pair_id: str, choice: str, reasons: list[str], version: int) -> dict:
        """Store which side the reviewer preferred (as A / B) and why.

        Raises:
            ReviewInputError: a choice or reason that is not one of the page's.
            UnknownItem: the pair is not in the reviewer's set.
            StaleAnswer: a newer answer is stored than the page saw.
        """
        if choice not in CHOICES:
            raise ReviewInputError(f"choice {choice!r} must be one of {list(CHOICES)}")
        unknown = sorted(set(reasons) - set(REASONS))
        if unknown:
            raise ReviewInputError(f"unknown reasons {unknown}; the page's are {list(REASONS)}")
        with self.store._connect() as db:
            db.execute("begin immediate")
            try:
                assigned = db.execute(
                    "select a_on_left from pair_assignments where reviewer = ? and pair_id = ?", (reviewer, pair_id)
                ).fetchone()
                if assigned is None:
                    raise UnknownItem(f"pair {pair_id!r} is not in {reviewer}'s pairwise set")
                stored = db.execute(
                    "select version from pair_answers where reviewer = ? and pair_id = ?", (reviewer, pair_id)
                ).fetchone()
                if (stored[0] if stored else 0) != version:
                    raise StaleAnswer(f"pair {pair_id} has a newer answer than this page's: reload it")
                preferred = _preferred(choice, bool(assigned[0]))
                db.execute(
                    "insert or replace into pair_answers values (?, ?, ?, ?, ?, ?)",
                    (
                        reviewer,
                        pair_id,
                        preferred,
                        json.dumps(sorted(reasons)),
                        version + 1,
                        datetime.now(UTC).isoformat(timespec="seconds"),
                    ),
                )
                db.execute("commit")
            except BaseException:
                db.execute("rollback")
                raise
        return {"preferred": preferred, "reasons": sorted(reasons), "version": version + 1}

    def assigned(self) -> int:
        with self.store._connect() as db:
            return db.execute("select count(*) from pair_assignments").fetchone()[0]

    def missing(self) -> int:
        with self.store._connect() as db:
            return db.execute(
                "select count(*) from pair_assignments a where not exists "
                "(select 1 from pair_answers b where b.reviewer = a.reviewer and b.pair_id = a.pair_id)"
            ).fetchone()[0]

    def answers(self) -> pl.DataFrame:
        """Every pairwise answer with its pair's variants and reference length."""
        with self.store._connect() as db:
            rows = db.execute(
                "select a.reviewer, a.pair_id, p.variant_a, p.variant_b, a.preferred, a.reasons, p.reference_words "
                "from pair_answers a join pairs p using (pair_id) order by a.reviewer, a.pair_id"
            ).fetchall()
        schema = {
            "reviewer": pl.String,
            "pair_id": pl.String,
            "variant_a": pl.String,
            "variant_b": pl.String,
            "preferred": pl.String,
            "reasons": pl.String,
            "reference_words": pl.Int64,
        }
        return pl.DataFrame(rows, schema=schema, orient="row")


def pairwise_summary(answers: pl.DataFrame) -> pl.DataFrame:
    """A better / equal / B better, overall and by thirds of the reference impression's length, with each reason's
    count among the answers that preferred a side."""
    if answers.is_empty():
        return pl.DataFrame()
    cuts = answers["reference_words"].quantile(1 / 3), answers["reference_words"].quantile(2 / 3)
    banded = answers.with_columns(
        pl.when(pl.col("reference_words") <= cuts[0])
        .then(pl.lit("short"))
        .when(pl.col("reference_words") <= cuts[1])
        .then(pl.lit("medium"))
        .otherwise(pl.lit("long"))
        .alias("band")
    )
    groups = [("all", banded)] + [(band, banded.filter(pl.col("band") == band)) for band in LENGTH_BANDS]
    rows = []
    for band, frame in groups:
        if frame.is_empty():
            continue
        reasons = [r for row in frame.filter(pl.col("preferred") != "equal")["reasons"] for r in json.loads(row)]
        rows.append(
            {
                "A": frame["variant_a"][0],
                "B": frame["variant_b"][0],
                "Reference length": band,
                "Answers": frame.height,
                "A better": int((frame["preferred"] == "a").sum()),
                "Equal": int((frame["preferred"] == "equal").sum()),
                "B better": int((frame["preferred"] == "b").sum()),
            }
            | {reason: reasons.count(reason) for reason in REASONS}
        )
    return pl.DataFrame(rows)


def _pairs(a: pl.DataFrame, b: pl.DataFrame) -> list[dict]:
    joined = a.join(b.select("report_id", "variant_id", "generated"), on="report_id", suffix="_b")
    pairs = []
    for row in joined.iter_rows(named=True):
        if row["generated"] == row["generated_b"]:
            continue  # the same text: nothing to choose between
        key = json.dumps([row["findings"], row["reference"], row["generated"], row["generated_b"]])
        pairs.append(
            {
                "pair_id": hashlib.sha256(key.encode()).hexdigest()[:16],
                "clinical_information": row.get("clinical_information") or "",
                "findings": row["findings"] or "",
                "reference": row["reference"] or "",
                "generated_a": row["generated"] or "",
                "generated_b": row["generated_b"] or "",
                "variant_a": row["variant_id"],
                "variant_b": row["variant_id_b"],
                "report_id": row["report_id"],
                "reference_words": len((row["reference"] or "").split()),
            }
        )
    return pairs


def _preferred(choice: str, a_on_left: bool) -> str:
    if choice == "equal":
        return "equal"
    return "a" if (choice == "left") == a_on_left else "b"


def _side(preferred: str, a_on_left: bool) -> str:
    if preferred == "equal":
        return "equal"
    return "left" if (preferred == "a") == a_on_left else "right"
