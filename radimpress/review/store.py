"""The review store: the review set, each reviewer's blinded order, and every answer, in one SQLite file.

The file is in WAL mode and every answer is committed the moment it is given, so a killed review server loses
nothing. Items are keyed by their content (findings, reference, generated): an impression regenerated after a
code change is a new item, never one that inherits an old score. Which variant wrote an item is kept in its own
table, which nothing a reviewer can reach reads.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from radimpress.errors import RadimpressError
from radimpress.review.rubric import ERROR_CATEGORIES

SEVERITIES = ("significant", "not_significant")
ITEM_FIELDS = ("clinical_information", "findings", "reference", "generated")
SCHEMA = """
create table if not exists items (
    item_id text primary key, clinical_information text not null, findings text not null,
    reference text not null, generated text not null, modality text not null, calibration integer not null);
create table if not exists sources (
    item_id text not null references items, variant_id text not null, report_id text not null,
    primary key (item_id, variant_id, report_id));
create table if not exists reviewers (reviewer text primary key, token text unique not null, lead integer not null);
create table if not exists assignments (
    reviewer text not null references reviewers, position integer not null, item_id text not null references items,
    primary key (reviewer, position), unique (reviewer, item_id));
create table if not exists waits (
    wait integer primary key autoincrement, flow_run_id text not null, missing integer not null, at text not null);
create table if not exists answers (
    reviewer text not null, item_id text not null, score integer not null check (score between 0 and 10),
    errors text not null, comment text not null, version integer not null, answered_at text not null,
    primary key (reviewer, item_id));
"""


class ReviewInputError(RadimpressError):
    """An answer, a link or an imported sheet that the review store refuses, with the reason."""


class UnknownReviewer(ReviewInputError):
    """A review link whose token no reviewer has."""


class UnknownItem(ReviewInputError):
    """An item that is not in the reviewer's set."""


class StaleAnswer(ReviewInputError):
    """An answer given on a page older than the answer already stored."""


@dataclass(frozen=True)
class Reviewer:
    name: str
    token: str
    lead: bool


@dataclass(frozen=True)
class Answer:
    score: int
    errors: dict[str, str]  # error category -> "significant" | "not_significant"; absent categories: none seen
    comment: str
    version: int  # 1 for the first answer, +1 at every change


def item_key(findings: str, reference: str, generated: str) -> str:
    """The item's id: a digest of what the reviewer judges, so new text is a new item."""
    return hashlib.sha256(json.dumps([findings, reference, generated]).encode()).hexdigest()[:16]


class ReviewStore:
    """One review: its items, reviewers, their orders and answers."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("pragma journal_mode=wal")
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # autocommit; `begin` where it matters
        db.execute("pragma foreign_keys=on")
        db.execute("pragma synchronous=full")  # an answer is on disk when submit returns
        try:
            yield db
        finally:
            db.close()

    # --- publishing ------------------------------------------------------------------------------------------

    def publish(
        self, sample: pl.DataFrame, reviewers: list[str], calibration_share: float, seed: int, lead: str | None = None
    ) -> None:
        """Add the sample's items and give each reviewer a seeded random order of their share.

        A `calibration_share` of the items goes to every reviewer (the agreement set); the rest is dealt out in
        turn. Publishing again adds new items and reviewers and changes nothing already assigned or answered.
        """
        if not reviewers:
            raise ReviewInputError("review.reviewers names nobody: add at least one reviewer")
        items = _items(sample)
        with self._connect() as db:
            db.execute("begin immediate")
            known = {row[0] for row in db.execute("select item_id from items")}
            new = [item for item in items if item["item_id"] not in known]
            n_calibration = round(calibration_share * len(new)) if len(reviewers) > 1 else 0
            shuffled = random.Random(seed).sample(new, len(new))
            for index, item in enumerate(shuffled):
                item["calibration"] = int(index < n_calibration)
            db.executemany(
                "insert into items values (:item_id, :clinical_information, :findings, :reference, :generated, "
                ":modality, :calibration)",
                shuffled,
            )
            for item in items:
                for variant_id, report_id in item["sources"]:
                    db.execute(
                        "insert or ignore into sources values (?, ?, ?)", (item["item_id"], variant_id, report_id)
                    )
            for name in reviewers:
                token = secrets.token_urlsafe(18)
                db.execute("insert or ignore into reviewers values (?, ?, ?)", (name, token, int(name == lead)))
            shares = _deal(shuffled, reviewers, n_calibration)
            for name in reviewers:
                self._append_assignments(db, name, shares[name], seed)
            db.execute("commit")

    @staticmethod
    def _append_assignments(db: sqlite3.Connection, reviewer: str, item_ids: list[str], seed: int) -> None:
        order = random.Random(f"{seed}:{reviewer}").sample(item_ids, len(item_ids))  # each reviewer their own order
        start = db.execute("select coalesce(max(position), -1) + 1 from assignments where reviewer = ?", (reviewer,))
        first = start.fetchone()[0]
        db.executemany(
            "insert or ignore into assignments values (?, ?, ?)",
            [(reviewer, first + i, item_id) for i, item_id in enumerate(order)],
        )

    # --- what a reviewer sees --------------------------------------------------------------------------------

    def reviewer(self, token: str) -> Reviewer:
        with self._connect() as db:
            row = db.execute("select reviewer, token, lead from reviewers where token = ?", (token,)).fetchone()
        if row is None:
            raise UnknownReviewer("unknown review link: ask the lead reviewer for yours")
        return Reviewer(row[0], row[1], bool(row[2]))

    def reviewers(self) -> list[Reviewer]:
        with self._connect() as db:
            rows = db.execute("select reviewer, token, lead from reviewers order by reviewer").fetchall()
        return [Reviewer(name, token, bool(lead)) for name, token, lead in rows]

    def assignment(self, reviewer: str) -> list[str]:
        """The reviewer's item ids, in their order."""
        with self._connect() as db:
            rows = db.execute("select item_id from assignments where reviewer = ? order by position", (reviewer,))
            return [row[0] for row in rows]

    def item(self, item_id: str) -> dict[str, str]:
        """What the page shows of an item: its id and its four texts, nothing about who wrote it."""
        with self._connect() as db:
            row = db.execute(f"select {', '.join(ITEM_FIELDS)} from items where item_id = ?", (item_id,)).fetchone()
        if row is None:
            raise UnknownItem(f"no review item {item_id!r}")
        return {"item_id": item_id, **dict(zip(ITEM_FIELDS, row, strict=True))}

    def answer(self, reviewer: str, item_id: str) -> Answer | None:
        with self._connect() as db:
            row = db.execute(
                "select score, errors, comment, version from answers where reviewer = ? and item_id = ?",
                (reviewer, item_id),
            ).fetchone()
        return Answer(row[0], json.loads(row[1]), row[2], row[3]) if row else None

    def progress(self, reviewer: str) -> tuple[int, int]:
        """(answered, assigned) for one reviewer."""
        with self._connect() as db:
            done = db.execute("select count(*) from answers where reviewer = ?", (reviewer,)).fetchone()[0]
            total = db.execute("select count(*) from assignments where reviewer = ?", (reviewer,)).fetchone()[0]
        return done, total

    def first_unanswered(self, reviewer: str) -> int:
        """Where the reviewer resumes: the first position without an answer (the last one when all are done)."""
        with self._connect() as db:
            row = db.execute(
                "select min(position) from assignments a where reviewer = ? and not exists "
                "(select 1 from answers b where b.reviewer = a.reviewer and b.item_id = a.item_id)",
                (reviewer,),
            ).fetchone()
            last = db.execute("select max(position) from assignments where reviewer = ?", (reviewer,)).fetchone()
        return row[0] if row[0] is not None else max(last[0] or 0, 0)

    # --- answers ---------------------------------------------------------------------------------------------

    def submit(
        self, reviewer: str, item_id: str, score: int, errors: dict[str, str], comment: str, version: int
    ) -> Answer:
        """Store an answer given on a page that saw answer `version` (0: none yet).

        Raises:
            ReviewInputError: the score or an error category is not the rubric's.
            UnknownItem: the item is not in the reviewer's set.
            StaleAnswer: a newer answer is stored than the page saw (another tab, a double submit).
        """
        answer = Answer(validated_score(score), validated_errors(errors), str(comment or "").strip(), version + 1)
        with self._connect() as db:
            db.execute("begin immediate")
            try:
                self._check_assigned(db, reviewer, item_id)
                row = db.execute(
                    "select version from answers where reviewer = ? and item_id = ?", (reviewer, item_id)
                ).fetchone()
                stored = row[0] if row else 0
                if stored != version:
                    raise StaleAnswer(
                        f"item {item_id} already has answer version {stored}, newer than this page's {version}: "
                        "reload it to see the stored answer"
                    )
                self._write(db, reviewer, item_id, answer)
                db.execute("commit")
            except BaseException:
                db.execute("rollback")
                raise
        return answer

    @staticmethod
    def _check_assigned(db: sqlite3.Connection, reviewer: str, item_id: str) -> None:
        assigned = db.execute(
            "select 1 from assignments where reviewer = ? and item_id = ?", (reviewer, item_id)
        ).fetchone()
        if assigned is None:
            raise UnknownItem(f"item {item_id!r} is not in {reviewer}'s review set")

    @staticmethod
    def _write(db: sqlite3.Connection, reviewer: str, item_id: str, answer: Answer) -> None:
        db.execute(
            "insert or replace into answers values (?, ?, ?, ?, ?, ?, ?)",
            (
                reviewer,
                item_id,
                answer.score,
                json.dumps(answer.errors, sort_keys=True),
                answer.comment,
                answer.version,
                datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )

    def answers(self) -> pl.DataFrame:
        """Every answer with its item's modality and calibration flag: reviewer, item_id, score, errors (JSON)..."""
        with self._connect() as db:
            rows = db.execute(
                "select a.reviewer, a.item_id, a.score, a.errors, a.comment, a.version, a.answered_at, i.modality, "
                "i.calibration from answers a join items i using (item_id) order by a.reviewer, a.item_id"
            ).fetchall()
        columns = ["reviewer", "item_id", "score", "errors", "comment", "version", "answered_at", "modality"]
        schema = dict.fromkeys(columns, pl.String) | {"score": pl.Int64, "version": pl.Int64, "calibration": pl.Int64}
        return pl.DataFrame(rows, schema=schema, orient="row")

    def missing(self) -> int:
        """Assigned items without an answer, over all reviewers."""
        with self._connect() as db:
            return db.execute(
                "select count(*) from assignments a where not exists "
                "(select 1 from answers b where b.reviewer = a.reviewer and b.item_id = a.item_id)"
            ).fetchone()[0]

    def sources(self) -> pl.DataFrame:
        """Which (variant, report) each item came from: for joining scores back, never for a reviewer's eyes."""
        with self._connect() as db:
            rows = db.execute("select item_id, variant_id, report_id from sources").fetchall()
        return pl.DataFrame(
            rows, schema={"item_id": pl.String, "variant_id": pl.String, "report_id": pl.String}, orient="row"
        )

    # --- the flow run that waits ------------------------------------------------------------------------------

    def record_wait(self, flow_run_id: str) -> int:
        """Note that `flow_run_id` is about to wait for the missing answers; returns this wait's number (every
        suspension of the flow run needs its own key, or Prefect would hand back the previous resume)."""
        with self._connect() as db:
            cursor = db.execute(
                "insert into waits (flow_run_id, missing, at) values (?, ?, ?)",
                (flow_run_id, self.missing(), datetime.now(UTC).isoformat(timespec="seconds")),
            )
            return cursor.lastrowid

    def waiting_flow_run(self) -> str | None:
        """The flow run that last suspended for this review."""
        with self._connect() as db:
            row = db.execute("select flow_run_id from waits order by wait desc limit 1").fetchone()
        return row[0] if row else None

    def assigned(self) -> int:
        with self._connect() as db:
            return db.execute("select count(*) from assignments").fetchone()[0]

    # --- spreadsheets ----------------------------------------------------------------------------------------

    def export_sheet(self, reviewer: str, path: Path) -> Path:
        """The reviewer's items in their order as a CSV to fill in (blinded: texts and item ids only)."""
        rows = [self.item(item_id) for item_id in self.assignment(reviewer)]
        frame = pl.DataFrame(rows, schema=dict.fromkeys(("item_id", *ITEM_FIELDS), pl.String))
        blanks = [pl.lit(None, pl.String).alias(name) for name in ("score", *ERROR_CATEGORIES, "comment")]
        frame.with_columns(blanks).write_csv(path)
        return path

    def import_sheet(self, reviewer: str, path: Path) -> int:
        """Store a filled-in sheet's answers, all or none; rows with an empty score are skipped (not yet reviewed).

        Raises:
            ReviewInputError: a missing column, a duplicate item, an unknown item or a bad value, by row number.
        """
        frame = _read_sheet(path)
        with self._connect() as db:
            db.execute("begin immediate")
            try:
                count = self._import_rows(db, reviewer, frame, path)
                db.execute("commit")
            except BaseException:
                db.execute("rollback")
                raise
        return count

    def _import_rows(self, db: sqlite3.Connection, reviewer: str, frame: pl.DataFrame, path: Path) -> int:
        count = 0
        for line, row in enumerate(frame.iter_rows(named=True), start=2):  # line 1 is the header
            if not (row["score"] or "").strip():
                continue
            try:
                self._check_assigned(db, reviewer, row["item_id"])
                score = validated_score(row["score"])
                errors = {c: row[c].strip() for c in ERROR_CATEGORIES if (row.get(c) or "").strip()}
                stored = db.execute(
                    "select version from answers where reviewer = ? and item_id = ?", (reviewer, row["item_id"])
                ).fetchone()
                answer = Answer(
                    score, validated_errors(errors), (row.get("comment") or "").strip(), (stored or (0,))[0] + 1
                )
            except ReviewInputError as exc:
                raise ReviewInputError(f"{path} line {line}: {exc}; nothing was imported") from None
            self._write(db, reviewer, row["item_id"], answer)
            count += 1
        return count


def validated_score(value: object) -> int:
    """The rubric's integer score 0-10, from a number or its text."""
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ReviewInputError(f"score {value!r} is not a number from 0 to 10") from None
    if not number.is_integer() or not 0 <= number <= 10:
        raise ReviewInputError(f"score {value!r} is not a whole number from 0 to 10")
    return int(number)


def validated_errors(errors: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(errors) - set(ERROR_CATEGORIES))
    if unknown:
        raise ReviewInputError(f"unknown error categories {unknown}; the rubric's are {list(ERROR_CATEGORIES)}")
    bad = {k: v for k, v in errors.items() if v not in SEVERITIES}
    if bad:
        raise ReviewInputError(f"error severities {bad} must be one of {list(SEVERITIES)}")
    return dict(sorted(errors.items()))


def _read_sheet(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ReviewInputError(f"{path} is not a readable CSV: {str(exc).splitlines()[0]}") from None
    missing = [name for name in ("item_id", "score") if name not in frame.columns]
    if missing:
        raise ReviewInputError(
            f"{path} lacks the column(s) {missing}: export the sheet with `radimpress review export`"
        )
    duplicated = frame.filter(pl.col("item_id").is_duplicated())["item_id"].unique().sort().to_list()
    if duplicated:
        raise ReviewInputError(f"{path} has item(s) {duplicated} on more than one row; nothing was imported")
    return frame.with_columns(
        pl.lit(None, pl.String).alias(c) for c in ("comment", *ERROR_CATEGORIES) if c not in frame.columns
    )


def _items(sample: pl.DataFrame) -> list[dict]:
    """One item per distinct (findings, reference, generated), with every (variant, report) it stands for."""
    clinical = sample["clinical_information"] if "clinical_information" in sample.columns else [""] * sample.height
    items: dict[str, dict] = {}
    rows = zip(sample["findings"], sample["reference"], sample["generated"], clinical, strict=True)
    for index, (findings, reference, generated, clinical_text) in enumerate(rows):
        key = item_key(findings or "", reference or "", generated or "")
        item = items.setdefault(
            key,
            {
                "item_id": key,
                "clinical_information": clinical_text or "",
                "findings": findings or "",
                "reference": reference or "",
                "generated": generated or "",
                "modality": sample["modality"][index],
                "sources": [],
            },
        )
        item["sources"].append((sample["variant_id"][index], sample["report_id"][index]))
    return list(items.values())


def _deal(shuffled: list[dict], reviewers: list[str], n_calibration: int) -> dict[str, list[str]]:
    """Calibration items to everyone, the rest in turn."""
    shares = {name: [item["item_id"] for item in shuffled[:n_calibration]] for name in reviewers}
    for index, item in enumerate(shuffled[n_calibration:]):
        shares[reviewers[index % len(reviewers)]].append(item["item_id"])
    return shares
