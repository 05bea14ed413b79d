"""The bad-input corpus (tests/data/bad_inputs): every malformed export gives a clear one-line error or rows kept and
quarantined with their reasons; never a crash, never a silent drop."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from radimpress.config import DataConfig
from radimpress.data.ingest import ingest
from radimpress.errors import InputDataError

CORPUS = Path(__file__).parent / "bad_inputs"
EXPECTED: dict[str, dict] = yaml.safe_load((CORPUS / "expected.yaml").read_text())
sys.path.insert(0, str(CORPUS))
from build_corpus import big_field_csv  # noqa: E402


def _path(name: str, tmp_path: Path) -> Path:
    if name == "big_field.csv":
        return big_field_csv(tmp_path / name)
    return CORPUS / EXPECTED[name].get("path", name)


def test_the_corpus_has_at_least_25_cases_and_every_file_has_an_expectation():
    files = {p.name for p in CORPUS.iterdir() if p.name not in ("build_corpus.py", "expected.yaml", "__pycache__")}
    assert len(EXPECTED) >= 25
    assert files | {"big_field.csv"} == {EXPECTED[name].get("path", name) for name in EXPECTED}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_outcome(name, tmp_path):
    case = EXPECTED[name]
    cfg = DataConfig(
        source="file", path=_path(name, tmp_path), columns=case.get("columns", {}), **case.get("config", {})
    )
    if "error" in case:
        with pytest.raises(InputDataError) as caught:
            ingest(cfg, work_dir=tmp_path)
        assert case["error"] in str(caught.value)
        assert "\n" not in str(caught.value)
        return
    result = ingest(cfg, work_dir=tmp_path)
    reasons = dict(result.quarantine.group_by("reason").len().iter_rows())
    assert result.reports.height == case["kept"]
    assert reasons == case.get("quarantined", {})
    assert result.rows_in == result.reports.height + result.quarantine.height  # rows_in is counted at read time
    assert set(result.quarantine["source_row"]).isdisjoint(result.reports["source_row"])
    for key in ("encoding", "ignored_columns", "html_cleaned_rows", "skipped_files"):
        if key in case:
            assert result.notes[key] == case[key]
    details = dict(result.quarantine.select("source_row", "detail").iter_rows())
    assert None not in details.values()  # every quarantined row says what its rule saw
    for source_row, detail in case.get("detail", {}).items():
        assert details[source_row] == detail
    for report_id, fields in case.get("text", {}).items():
        row = result.reports.filter(pl.col("report_id") == report_id).row(0, named=True)
        assert {f: row[f] for f in fields} == fields


def test_a_latin1_export_is_transcoded_once_into_the_work_folder(tmp_path):
    ingest(DataConfig(source="file", path=CORPUS / "latin1.csv"), work_dir=tmp_path)
    copy = tmp_path / "latin1.utf8.csv"
    assert "Épanchement" in copy.read_text(encoding="utf-8")
