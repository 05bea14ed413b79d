"""The labelled report corpus (tests/data/report_corpus.py) through modality segmentation: end to end from a folder
of .txt reports as a user would run it, and on frames whose exam is filled from each report's title line."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from radimpress.config import MODALITIES, DataConfig
from radimpress.data.ingest import ingest
from radimpress.data.segment import with_modality
from tests.data.report_corpus import build_corpus

CORPUS = build_corpus()
TRUTH = {report.report_id: report for report in CORPUS}
MIN_ACCURACY = 0.95


def _misses(coded: pl.DataFrame, column: str, truth: dict[str, str | None]) -> list[str]:
    """'id: true -> read (exam)' for each report read wrong, a report missing from `coded` included."""
    read = dict(coded.select("report_id", column).iter_rows())
    exams = dict(coded.select("report_id", "exam").iter_rows())
    return [
        f"{rid}: {true} -> {read.get(rid, 'not kept')} ({TRUTH[rid].layout}, exam {exams.get(rid)!r})"
        for rid, true in truth.items()
        if read.get(rid) != true
    ]


def _assert_accurate(misses: list[str], total: int, floor: float) -> None:
    accuracy = 1 - len(misses) / total
    assert accuracy >= floor, f"accuracy {accuracy:.3f} < {floor}; {len(misses)} misses:\n" + "\n".join(misses)


def test_corpus_is_large_varied_and_labelled():
    texts = [report.text for report in CORPUS]
    counts = {code: sum(report.modality == code for report in CORPUS) for code in MODALITIES}
    assert len(texts) >= 240 and len(set(texts)) == len(texts)
    assert min(counts.values()) >= 5, counts  # every code, unknown included, several times
    assert {report.layout for report in CORPUS} >= {"title", "exam_heading", "technique_paragraph", "flattened"}
    assert build_corpus() == CORPUS  # seeded: the same corpus on every run


@pytest.mark.parametrize(
    "phrase", ["craniocaudal", "BI-RADS", "PT/PTT", "FOOT SERIES", "LEXISCAN", "HEART CATH", "FIVE VIEWS"]
)
def test_the_hard_cases_appear_several_times(phrase):
    assert sum(phrase.lower() in report.text.lower() for report in CORPUS) >= 3


def test_modality_from_a_folder_of_text_reports(tmp_path):
    for report in CORPUS:
        (tmp_path / f"{report.report_id}.txt").write_text(report.text, encoding="utf-8")
    result = ingest(DataConfig(source="file", path=Path(tmp_path)))
    coded = with_modality(result.reports)
    misses = _misses(coded, "modality", {rid: report.modality for rid, report in TRUTH.items()})
    _assert_accurate(misses, len(CORPUS), MIN_ACCURACY)


def _coded_with_titles() -> pl.DataFrame:
    """The corpus as ingest should give it: exam from the title line, technique in other_sections."""
    frame = pl.DataFrame(
        {
            "report_id": [r.report_id for r in CORPUS],
            "modality": [None] * len(CORPUS),
            "exam": [r.exam_line for r in CORPUS],
            "other_sections": [r.technique and f"TECHNIQUE: {r.technique}" for r in CORPUS],
            "findings": [r.findings for r in CORPUS],
            "impression": [r.impression for r in CORPUS],
        },
        schema={
            name: pl.String for name in ("report_id", "modality", "exam", "other_sections", "findings", "impression")
        },
    )
    return with_modality(frame)


def test_modality_when_the_exam_holds_the_title_line():
    misses = _misses(_coded_with_titles(), "modality", {rid: report.modality for rid, report in TRUTH.items()})
    _assert_accurate(misses, len(CORPUS), MIN_ACCURACY)


def test_known_modalities_are_never_read_as_another():
    # Missing a modality costs a report; reading the wrong one puts it in another modality's training set.
    coded = _coded_with_titles()
    wrong = [m for m in _misses(coded, "modality", {r: t.modality for r, t in TRUTH.items()}) if "-> unknown" not in m]
    assert wrong == []


def test_body_part_when_the_exam_names_it():
    named = {rid: report.body_part for rid, report in TRUTH.items() if report.body_part and report.exam_line}
    misses = _misses(_coded_with_titles(), "body_part", named)
    _assert_accurate(misses, len(named), 0.95)
