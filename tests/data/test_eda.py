"""`run_eda`, the package's entry point: the files it writes and its flat summary, on test_eda_statistics' frames."""

from __future__ import annotations

import json

import polars as pl
import pytest
from test_eda_statistics import PHI_REPORTS, QUARANTINE, REPORTS

from radimpress.data.eda import SECTIONS, WITHHELD, eda_statistics, run_eda
from radimpress.data.phi import phi_counts


@pytest.fixture(scope="module")
def eda_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("eda")
    return run_eda(PHI_REPORTS, QUARANTINE, phi_counts(PHI_REPORTS, SECTIONS), out)


def test_run_eda_writes_tables_plots_and_reports(eda_dir):
    names = {p.name for p in eda_dir.iterdir()}
    tables = {"word_counts", "missing", "modality_counts", "outliers", "top_impressions", "top_ngrams"}
    tables |= {"templated_normal", "vocabulary", "other_sections"}
    plots = {"word_counts", "section_lengths", "top_impressions", "quarantine", "phi"}
    assert names == {f"{t}.csv" for t in tables} | {f"{p}.png" for p in plots} | {"eda.md", "eda.html", "summary.json"}
    expected = eda_statistics(PHI_REPORTS)["word_counts"]
    assert pl.read_csv(eda_dir / "word_counts.csv").equals(expected)
    for plot in plots:
        png = (eda_dir / f"{plot}.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000


def test_summary_json_is_flat_numbers(eda_dir):
    summary = json.loads((eda_dir / "summary.json").read_text())
    assert all(isinstance(v, int | float) for v in summary.values())
    assert {k: summary[k] for k in ("reports_kept", "reports_quarantined", "modalities", "phi_matches")} == {
        "reports_kept": 11,
        "reports_quarantined": 3,
        "modalities": 3,
        "phi_matches": 4,
    }
    assert summary["quarantine.duplicate_id"] == 2 and summary["quarantine.no_findings"] == 1
    assert summary["phi.date"] == 2 and summary["phi.titled_name"] == 2
    assert summary["mri.findings_words_median"] == 5.0 and summary["mri.clinical_information_missing"] == 2
    assert summary["ct.templated_normal_share"] == pytest.approx(0.4)
    assert summary["templated_normal_share"] == pytest.approx((2 + 2) / 11)  # ct and mri; xray's repeat is no normal
    assert summary["mri.impression_vocabulary"] == 12


def test_run_eda_without_quarantine_or_phi(tmp_path):
    empty_phi = phi_counts(REPORTS.head(0), SECTIONS)
    run_eda(REPORTS, QUARANTINE.clear(), empty_phi, tmp_path)
    markdown = (tmp_path / "eda.md").read_text()
    assert "Reports kept: 8; quarantined: 0." in markdown
    assert "Quarantine by reason: none." in markdown
    assert "PHI matches found by the regex screen: 0." in markdown
    assert (tmp_path / "quarantine.png").stat().st_size > 5_000 and (tmp_path / "phi.png").stat().st_size > 5_000


def test_show_text_false_withholds_every_impression_and_phrase(tmp_path):

    reports = pl.DataFrame(
        {
            "report_id": ["1", "2", "3"],
            "modality": ["ct"] * 3,
            "findings": ["Small nodule seen by Dr. Smith."] * 3,
            "impression": ["Pulmonary nodule, follow up.", "Pulmonary nodule, follow up.", "Normal chest."],
        }
    )
    quarantine = reports.head(0).with_columns(pl.lit(None, dtype=pl.String).alias("reason"))
    phi = pl.DataFrame(schema={"column": pl.String, "category": pl.String, "reports": pl.Int64, "matches": pl.Int64})
    out = run_eda(reports, quarantine, phi, tmp_path, show_text=False)
    top = pl.read_csv(out / "top_impressions.csv")
    assert set(top["impression"]) == {WITHHELD} and top["count"].to_list() == [2, 1]
    for name in ("eda.md", "eda.html", "top_ngrams.csv"):
        assert "nodule" not in (out / name).read_text().lower()


def test_the_split_overlap_with_train_is_shown(tmp_path):
    overlap = pl.DataFrame(
        {
            "modality": ["mri", "mri"],
            "split": ["validation", "test"],
            "reports": [20, 18],
            "pairs_in_train": [0, 0],
            "impressions_in_train": [5, 4],
            "impressions_in_train_share": [0.25, 4 / 18],
        }
    )
    out = run_eda(REPORTS, QUARANTINE, phi_counts(REPORTS, SECTIONS), tmp_path, overlap=overlap)
    assert pl.read_csv(out / "split_overlap.csv").equals(overlap)
    html, markdown = (out / "eda.html").read_text(), (out / "eda.md").read_text()
    assert "<h2>Split overlap with train</h2>" in html and "22.2%" in html
    assert "## What of validation and test also occurs in train" in markdown
    assert (
        "Split overlap"
        not in (run_eda(REPORTS, QUARANTINE, phi_counts(REPORTS, SECTIONS), tmp_path / "b") / "eda.html").read_text()
    )
