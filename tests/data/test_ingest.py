from pathlib import Path

import polars as pl
import pytest

from radimpress.config import CANONICAL_COLUMNS, DataConfig
from radimpress.data.ingest import ingest
from radimpress.errors import InputDataError

# A hospital export whose column names are not the canonical ones.
COLUMNS = {
    "report_id": "Accession",
    "modality": "Modality",
    "exam": "Procedure",
    "clinical_information": "Indication",
    "findings": "Report Findings",
    "impression": "Report Impression",
}
EXPORT = pl.DataFrame(
    {
        "Accession": ["A1", "A2", "A3", "A4", "A4", "A6"],
        "Modality": ["MR", "CT", "XR", "US", "US", "MR"],
        "Procedure": ["MR brain", "CT head", "XR chest", "US abdomen", "US abdomen", "MR knee"],
        "Indication": ["Headache.", None, "Cough.", "Pain.", "Pain.", "Injury."],
        "Report Findings": [" Normal brain. ", "  ", "Clear lungs.", "Gallstones.", "Gallstones again.", "ACL tear."],
        "Report Impression": [
            "No acute abnormality.",
            "Normal.",
            "",
            "Cholelithiasis.",
            "Cholelithiasis.",
            "ACL rupture.",
        ],
        "Unused": ["u"] * 6,
    }
)


def _write(frame: pl.DataFrame, path: Path) -> Path:
    frame.write_csv(path) if path.suffix == ".csv" else frame.write_parquet(path)
    return path


def _file_config(path: Path, **columns: str | None) -> DataConfig:
    return DataConfig(source="file", path=path, columns={**COLUMNS, **columns})


def _input_error(cfg: DataConfig) -> str:
    with pytest.raises(InputDataError) as caught:
        ingest(cfg)
    message = str(caught.value)
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_is_mapped_to_canonical_columns(tmp_path, suffix):
    result = ingest(_file_config(_write(EXPORT, tmp_path / f"export{suffix}")))
    assert result.reports.columns == [*CANONICAL_COLUMNS, "source_row"]
    assert result.reports["report_id"].to_list() == ["A1", "A6"]
    assert result.reports.row(0, named=True) == {
        "source_row": 1,
        "patient_id": None,
        "study_id": None,
        "report_id": "A1",
        "modality": "MR",
        "exam": "MR brain",
        "clinical_information": "Headache.",
        "findings": "Normal brain.",  # surrounding whitespace stripped
        "impression": "No acute abnormality.",
        "other_sections": None,  # only free text has parts outside the fields
    }


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_unusable_rows_are_quarantined_with_their_reason(tmp_path, suffix):
    result = ingest(_file_config(_write(EXPORT, tmp_path / f"export{suffix}")))
    reasons = dict(zip(result.quarantine["report_id"], result.quarantine["reason"], strict=True))
    assert result.quarantine["report_id"].to_list() == ["A2", "A3", "A4", "A4"]
    assert reasons == {"A2": "no_findings", "A3": "no_impression", "A4": "duplicate_id"}
    assert result.quarantine.columns == [*CANONICAL_COLUMNS, "source_row", "reason", "detail"]
    assert result.quarantine["source_row"].to_list() == [2, 3, 4, 5]
    assert result.reports.height + result.quarantine.height == EXPORT.height


def test_parquet_with_non_string_columns_reads_as_text(tmp_path):
    export = EXPORT.with_columns(pl.Series("Accession", [101, 102, 103, 104, 105, 106]))
    result = ingest(_file_config(_write(export, tmp_path / "export.parquet")))
    assert result.reports["report_id"].dtype == pl.String
    assert result.reports["report_id"].to_list() == ["101", "104", "105", "106"]  # ids now unique


def test_without_an_id_column_rows_are_numbered_from_one(tmp_path):
    path = _write(EXPORT.drop("Accession"), tmp_path / "export.csv")
    result = ingest(_file_config(path, report_id=None))
    all_ids = sorted([*result.reports["report_id"], *result.quarantine["report_id"]], key=int)
    assert all_ids == ["1", "2", "3", "4", "5", "6"]
    assert "duplicate_id" not in result.quarantine["reason"].to_list()  # the row numbers are unique
    assert result.reports["report_id"].to_list() == ["1", "4", "5", "6"]


def test_optional_columns_absent_from_the_export_become_null(tmp_path):
    path = _write(EXPORT.select("Report Findings", "Report Impression"), tmp_path / "export.csv")
    cfg = DataConfig(
        source="file",
        path=path,
        columns={"findings": "Report Findings", "impression": "Report Impression"},
    )
    reports = ingest(cfg).reports
    assert reports.columns == [*CANONICAL_COLUMNS, "source_row"]
    assert reports["modality"].null_count() == reports.height
    assert reports["report_id"].to_list() == ["1", "4", "5", "6"]


def test_missing_file(tmp_path):
    message = _input_error(_file_config(tmp_path / "absent.csv"))
    assert message == f"input file not found: {tmp_path / 'absent.csv'}"


def test_wrong_extension(tmp_path):
    path = tmp_path / "export.xlsx"
    path.write_text("not a spreadsheet")
    message = _input_error(_file_config(path))
    assert "cannot tell the format" in message
    assert "'.xlsx'" in message
    assert "data.format" in message


def test_unreadable_parquet(tmp_path):
    path = tmp_path / "export.parquet"
    path.write_text("not parquet")
    assert f"cannot read {path}" in _input_error(_file_config(path))


@pytest.mark.parametrize("field", ["findings", "impression"])
def test_missing_required_column_names_column_and_setting(tmp_path, field):
    path = _write(EXPORT.drop(COLUMNS[field]), tmp_path / "export.csv")
    message = _input_error(_file_config(path))
    assert f"no column '{COLUMNS[field]}' for {field}" in message
    assert f"data.columns.{field}" in message
    assert "Accession" in message  # lists the columns the export does have


def test_mapped_optional_column_missing_names_the_setting(tmp_path):
    path = _write(EXPORT, tmp_path / "export.csv")
    message = _input_error(_file_config(path, exam="Exam Description"))
    assert "'Exam Description'" in message
    assert "data.columns.exam" in message


def test_findings_column_empty_in_every_row(tmp_path):
    export = EXPORT.with_columns(pl.Series("Report Findings", ["", " ", None, "", "", "  "], dtype=pl.String))
    message = _input_error(_file_config(_write(export, tmp_path / "export.csv")))
    assert "column 'Report Findings' (findings)" in message
    assert "empty in every row" in message


def test_synthetic_source_gives_n_reports():
    result = ingest(DataConfig(source="synthetic", n_reports=25, seed=3))
    assert result.reports.height == 25
    assert result.quarantine.height == 0
    assert result.reports["report_id"].n_unique() == 25
    assert set(CANONICAL_COLUMNS) <= set(result.reports.columns)


def test_a_misspelled_id_column_is_an_error_not_row_numbers(tmp_path):
    from radimpress.config import ColumnMapping
    from radimpress.data.ingest import to_canonical

    export = pl.DataFrame({"accession": ["A1"], "findings": ["f"], "impression": ["i"]})
    with pytest.raises(InputDataError, match="no column 'accesion' named by data.columns.report_id"):
        to_canonical(export, ColumnMapping(report_id="accesion"), "export.csv")


FREE_TEXT_REPORTS = [
    "CT ABDOMEN AND PELVIS WITH CONTRAST\n\nCLINICAL DATA: Pain.\nCOMPARISON: None.\nFINDINGS: Normal liver.\n"
    "IMPRESSION: No acute process.\nElectronically signed by Dr. A. Smith.",
    "MRI LEFT KNEE WITHOUT CONTRAST\nFINDINGS: Meniscal tear.\nIMPRESSION: Tear.\nPLAN: Orthopedic referral.",
    "History: Cough.\nTECHNIQUE: PA view.",
]


def _expect_free_text_reports(result) -> None:
    kept = {row["report_id"]: row for row in result.reports.iter_rows(named=True)}
    assert kept["1"]["exam"] == "CT ABDOMEN AND PELVIS WITH CONTRAST"  # the title line, read by the modality rules
    assert kept["1"]["clinical_information"] == "Pain."
    assert kept["1"]["impression"] == "No acute process."
    assert kept["1"]["other_sections"] == "COMPARISON: None.\nSIGN-OFF: Electronically signed by Dr. A. Smith."
    assert (kept["2"]["exam"], kept["2"]["other_sections"]) == (
        "MRI LEFT KNEE WITHOUT CONTRAST",
        "PLAN: Orthopedic referral.",
    )
    quarantined = result.quarantine.row(0, named=True)
    assert (quarantined["reason"], quarantined["detail"]) == (
        "no_findings",
        "no findings; headings found: History, TECHNIQUE",
    )
    assert quarantined["other_sections"] == "TECHNIQUE: PA view."  # quarantined text is accounted for too


def test_free_text_column_fills_exam_from_its_title_line(tmp_path):
    path = tmp_path / "export.csv"
    pl.DataFrame({"accession": ["1", "2", "3"], "report": FREE_TEXT_REPORTS}).write_csv(path)
    result = ingest(DataConfig(source="file", path=path, columns={"report_id": "accession", "text": "report"}))
    _expect_free_text_reports(result)


def test_text_folder_fills_exam_from_its_title_line(tmp_path):
    for number, text in enumerate(FREE_TEXT_REPORTS, start=1):
        (tmp_path / f"{number}.txt").write_text(text)
    _expect_free_text_reports(ingest(DataConfig(source="file", path=tmp_path)))


def test_an_exam_column_wins_over_the_title_line(tmp_path):
    path = tmp_path / "export.csv"
    export = pl.DataFrame({"accession": ["1"], "procedure": ["CT A/P"], "report": FREE_TEXT_REPORTS[:1]})
    export.write_csv(path)
    columns = {"report_id": "accession", "exam": "procedure", "text": "report"}
    assert ingest(DataConfig(source="file", path=path, columns=columns)).reports["exam"].to_list() == ["CT A/P"]


def test_column_exports_have_no_other_sections_and_pass_the_schema(tmp_path):
    from radimpress.data.validation import canonical_schema

    reports = ingest(_file_config(_write(EXPORT, tmp_path / "export.csv"))).reports
    assert reports["other_sections"].null_count() == reports.height
    canonical_schema().validate(reports)
    synthetic = ingest(DataConfig(source="synthetic", n_reports=5, seed=1)).reports
    assert synthetic["other_sections"].null_count() == 5


def test_every_quarantined_row_says_what_its_rule_saw(tmp_path):
    result = ingest(_file_config(_write(EXPORT, tmp_path / "export.csv")))
    details = dict(zip(result.quarantine["source_row"], result.quarantine["detail"], strict=True))
    assert details == {
        2: 'findings is ""',
        3: 'impression is ""',
        4: 'report_id "A4" names different reports on source_rows 4, 5',
        5: 'report_id "A4" names different reports on source_rows 4, 5',
    }
