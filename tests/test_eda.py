import polars as pl

from radimpress.eda import missing_values, run_eda, word_count_stats

REPORTS = pl.DataFrame(
    {
        "report_id": ["1", "2", "3"],
        "modality": ["mri", "mri", "mri"],
        "exam": ["MR brain", "MR knee", " "],
        "clinical_information": ["Headache for two days.", None, ""],
        "findings": ["one two three", "one two three four five", "a b c d e f g h i j"],
        "impression": ["Normal.", "Small effusion.", "Large tear of the ACL."],
    }
)
QUARANTINE = pl.DataFrame(
    {
        "report_id": ["7", "8", "8"],
        "findings": [None, "x", "y"],
        "reason": ["no_findings", "duplicate_id", "duplicate_id"],
    }
)


def _stats(section: str) -> dict:
    stats = word_count_stats(REPORTS)
    return stats.filter(pl.col("section") == section).drop("modality", "section").row(0, named=True)


def test_word_count_stats_of_findings():
    assert _stats("findings") == {"reports": 3, "mean": 6.0, "median": 5.0, "p5": 3.0, "p95": 10.0, "max": 10}


def test_missing_sections_count_zero_words():
    assert _stats("clinical_information") == {
        "reports": 3,
        "mean": 1.3,  # (4 + 0 + 0) / 3, rounded
        "median": 0.0,
        "p5": 0.0,
        "p95": 4.0,
        "max": 4,
    }


def test_word_count_stats_per_modality():
    reports = REPORTS.with_columns(pl.Series("modality", ["mri", "ct", "mri"]))
    stats = word_count_stats(reports).filter(pl.col("section") == "impression")
    assert stats.select("modality", "reports", "mean", "max").rows() == [("ct", 1, 2.0, 2), ("mri", 2, 3.0, 5)]


def test_missing_values_counts_null_and_blank():
    missing = missing_values(REPORTS)
    assert missing.row(0, named=True) == {
        "modality": "mri",
        "reports": 3,
        "report_id": 0,
        "exam": 1,
        "clinical_information": 2,
        "findings": 0,
        "impression": 0,
    }


def test_run_eda_writes_tables_plot_and_summary(tmp_path):
    assert run_eda(REPORTS, QUARANTINE, tmp_path) == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eda.md", "missing.csv", "word_counts.csv", "word_counts.png"]
    assert pl.read_csv(tmp_path / "word_counts.csv").equals(word_count_stats(REPORTS).cast({"reports": pl.Int64}))
    assert pl.read_csv(tmp_path / "missing.csv")["clinical_information"].to_list() == [2]
    png = (tmp_path / "word_counts.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 1024
    summary = (tmp_path / "eda.md").read_text()
    assert "Reports kept: 3; quarantined: 3." in summary
    assert "| duplicate_id | 2 |" in summary
    assert "| no_findings | 1 |" in summary
    assert "| mri | findings | 3 | 6.00 | 5.00 | 3.00 | 10.00 | 10 |" in summary


def test_run_eda_without_quarantine_has_no_reasons_section(tmp_path):
    run_eda(REPORTS, QUARANTINE.clear(), tmp_path)
    summary = (tmp_path / "eda.md").read_text()
    assert "quarantined: 0." in summary
    assert "Quarantined rows by reason" not in summary
