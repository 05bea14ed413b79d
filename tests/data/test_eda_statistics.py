"""EDA tables on hand-built frames: every asserted number is worked out by hand in the comments.

The frames here (REPORTS, QUARANTINE, PHI_REPORTS) are also what test_eda and test_eda_render feed the entry point
and the pages, so those tests' numbers follow from the same comments.
"""

from __future__ import annotations

import polars as pl
import pytest

from radimpress.data.eda.statistics import SECTIONS, eda_statistics


def _reports(rows: list[dict]) -> pl.DataFrame:
    """Kept reports in the canonical columns; unspecified optional columns are null."""
    ids = {"report_id": [str(i) for i in range(len(rows))]}
    columns = ["patient_id", "study_id", "modality", "body_part", "exam", *SECTIONS]
    data = ids | {c: [row.get(c) for row in rows] for c in columns}
    return pl.DataFrame(data, schema={c: pl.String for c in data})


REPORTS = _reports(
    [
        {
            "modality": "mri",
            "body_part": "brain",
            "clinical_information": "Headache.",
            "findings": "one two three",
            "impression": "No acute intracranial abnormality.",
        },
        {
            "modality": "mri",
            "body_part": "brain",
            "findings": "one two three four five",
            "impression": "no acute   intracranial abnormality",
        },
        {
            "modality": "mri",
            "body_part": "knee",
            "clinical_information": "  ",
            "findings": "a b c d e f g h i j",
            "impression": "Large tear of the ACL. Small joint effusion.",
        },
        {"modality": "ct", "findings": "Lesion 2.5 cm at C5-6. lesion", "impression": "Normal chest CT."},
        {"modality": "ct", "findings": "Clear lungs.", "impression": "normal chest ct"},
        {"modality": "ct", "findings": "Small effusion.", "impression": "Mild effusion, otherwise normal."},
        {"modality": "ct", "findings": "Small effusion.", "impression": "Mild effusion, otherwise normal."},
        {"modality": "ct", "findings": "Clear lungs.", "impression": "Unremarkable."},
    ]
)
QUARANTINE = _reports([{"modality": "mri"}] * 3).with_columns(
    pl.Series("reason", ["no_findings", "duplicate_id", "duplicate_id"])
)


@pytest.fixture(scope="module")
def stats() -> dict[str, pl.DataFrame]:
    return eda_statistics(REPORTS)


def _row(table: pl.DataFrame, **keys: str) -> dict:
    return table.filter(**keys).drop(*keys).row(0, named=True)


def test_word_count_stats_of_findings(stats):
    # mri findings have 3, 5 and 10 words; linear quantiles: p5 = 3 + 0.1 * 2, p95 = 5 + 0.9 * 5; std = sqrt(26 / 2)
    assert _row(stats["word_counts"], modality="mri", section="findings") == pytest.approx(
        {
            "reports": 3,
            "missing": 0,
            "missing_share": 0.0,
            "mean": 6.0,
            "std": 13**0.5,
            "min": 3,
            "p5": 3.2,
            "median": 5.0,
            "p95": 9.5,
            "max": 10,
        }
    )


def test_word_counts_are_over_present_sections_with_the_share_missing_beside_them(stats):
    # "Headache." is the one clinical information present (1 word); a null and a blank one are missing, not 0 words
    row = _row(stats["word_counts"], modality="mri", section="clinical_information")
    assert row == pytest.approx(
        {"reports": 3, "missing": 2, "missing_share": 2 / 3, "mean": 1.0, "min": 1, "p5": 1.0, "median": 1.0}
        | {"p95": 1.0, "max": 1, "std": None}
    )
    # no ct report has clinical information: no statistics at all rather than a median of 0
    row = _row(stats["word_counts"], modality="ct", section="clinical_information")
    assert row["missing_share"] == 1.0 and row["median"] is None and row["mean"] is None


def test_missing_values_count_null_and_blank_per_modality_and_column(stats):
    missing = stats["missing"].filter(modality="mri")
    assert dict(missing.select("column", "missing").iter_rows()) == {
        "report_id": 0,
        "patient_id": 3,
        "study_id": 3,
        "body_part": 0,
        "exam": 3,
        "clinical_information": 2,
        "findings": 0,
        "impression": 0,
    }
    assert _row(missing.drop("modality"), column="clinical_information") == pytest.approx(
        {"reports": 3, "missing": 2, "share": 2 / 3}
    )


def test_modality_counts_per_body_part_most_frequent_first(stats):
    assert stats["modality_counts"].rows() == [("ct", None, 5), ("mri", "brain", 2), ("mri", "knee", 1)]


def test_outliers_among_present_sections():
    # 20 findings of 10 words, one of 100 and one of 2; a missing one is left out. 22 present: under 100, so a
    # modified z-score decides. Median 10 and MAD 0 (most are 10): the spread is the mean absolute deviation
    # (90 + 8) / 22 = 4.4545 x 1.2533 = 5.5829; very long above 10 + 3.5 x 5.5829 = 29.54: the 100 only.
    # mean 302 / 22 = 13.7, sample std 19.3: z(100) = 4.46, z(2) = -0.61, z(10) = -0.19: one |z| > 3.
    findings = ["w " * 10] * 20 + ["w " * 100, "Small effusion.", None]
    reports = _reports([{"modality": "xray", "findings": f, "impression": "Normal."} for f in findings])
    outliers = eda_statistics(reports)["outliers"]
    assert _row(outliers, section="findings") == pytest.approx(
        {"modality": "xray", "present": 22, "very_short": 1, "long_rule": "robust_z", "long_above": 29.54}
        | {"very_long": 1, "z_over_3": 1},
        abs=0.01,
    )
    # every impression is 1 word: all very short; all equal, so no spread, no threshold and none long
    assert _row(outliers, section="impression") == pytest.approx(
        {"modality": "xray", "present": 23, "very_short": 23, "long_rule": "robust_z", "long_above": None}
        | {"very_long": 0, "z_over_3": 0}
    )
    assert _row(outliers, section="clinical_information")["present"] == 0


def test_a_small_group_has_no_long_outlier_by_construction():
    # Two findings of 5 and 50 words: "> p99" would flag the 50. Median 27.5, MAD 22.5 -> spread 33.36;
    # threshold 27.5 + 3.5 x 33.36 = 144.3: neither is very long.
    reports = _reports([{"modality": "us", "findings": "w " * n, "impression": "Normal."} for n in (5, 50)])
    row = _row(eda_statistics(reports)["outliers"], section="findings")
    assert row["very_long"] == 0 and row["long_above"] == pytest.approx(144.25, abs=0.01)


def test_a_large_group_flags_above_its_99th_percentile():
    # 1..120 words: p99 at position 0.99 x 119 = 117.81 -> 118.81; the 119 and 120 are very long.
    reports = _reports([{"modality": "ct", "findings": "w " * n, "impression": "Normal."} for n in range(1, 121)])
    row = _row(eda_statistics(reports)["outliers"], section="findings")
    assert row["long_rule"] == "p99" and row["long_above"] == pytest.approx(118.81) and row["very_long"] == 2


def test_top_impressions_are_normalised_with_shares(stats):
    # lower-cased, whitespace collapsed, trailing period stripped: the two mri brain impressions are one
    assert stats["top_impressions"].filter(modality="mri").drop("modality").rows() == [
        (1, "no acute intracranial abnormality", 2, pytest.approx(2 / 3)),
        (2, "large tear of the acl. small joint effusion", 1, pytest.approx(1 / 3)),
    ]
    # ties broken by text
    assert stats["top_impressions"].filter(modality="ct")["impression"].to_list() == [
        "mild effusion, otherwise normal",
        "normal chest ct",
        "unremarkable",
    ]


def test_templated_normal_needs_a_repeat_and_no_finding(stats):
    # ct: "normal chest ct" twice counts; "mild effusion, otherwise normal" repeats but grades a finding;
    # "unremarkable" reads normal but occurs once. mri: "no acute intracranial abnormality" twice.
    assert stats["templated_normal"].rows() == [
        ("ct", 5, 2, 1, pytest.approx(0.4)),
        ("mri", 3, 2, 1, pytest.approx(2 / 3)),
    ]


def test_templated_normal_opens_with_the_normal_statement():
    impressions = (
        ["Cardiomegaly, no acute findings."] * 2
        + ["1. No acute findings."] * 3
        + ["No acute fracture. Mild arthritis."] * 2
    )
    reports = _reports([{"modality": "xray", "findings": "x", "impression": i} for i in impressions])
    # only "1. no acute findings": the first leads with a finding, the last grades one
    assert eda_statistics(reports)["templated_normal"].rows() == [("xray", 7, 3, 1, pytest.approx(3 / 7))]


def test_vocabulary_counts_distinct_lower_cased_words(stats):
    vocabulary = {(m, s): n for m, s, n in stats["vocabulary"].iter_rows()}
    # findings: lesion, 2.5, cm, at, c5-6 + clear, lungs + small, effusion
    assert vocabulary["ct", "findings"] == 9
    assert vocabulary["ct", "clinical_information"] == 0
    # one..five + a..j
    assert vocabulary["mri", "findings"] == 15
    # no acute intracranial abnormality + large tear of the acl small joint effusion
    assert vocabulary["mri", "impression"] == 12


def test_ngrams_stay_in_a_sentence_and_skip_stop_word_edges():
    impressions = ["No acute fracture. Mild joint effusion."] * 2 + ["1. No acute fracture of the left wrist."]
    reports = _reports([{"modality": "xray", "findings": "x", "impression": i} for i in impressions])
    ngrams = eda_statistics(reports)["top_ngrams"].drop("modality")
    # "fracture mild" crosses a sentence; "fracture of", "of the", "the left" start or end on a stop word; the list
    # number "1." is no word
    assert ngrams.rows() == [
        (2, 1, "acute fracture", 3),
        (2, 2, "no acute", 3),
        (2, 3, "joint effusion", 2),
        (2, 4, "mild joint", 2),
        (2, 5, "left wrist", 1),
        (3, 1, "no acute fracture", 3),
        (3, 2, "mild joint effusion", 2),
    ]


def test_lazy_and_eager_inputs_give_equal_statistics(stats):
    lazy = eda_statistics(REPORTS.lazy().with_columns(pl.lit(1).alias("extra_column")))
    assert stats.keys() == lazy.keys()
    for name, table in stats.items():
        assert table.equals(lazy[name]), name


PHI_REPORTS = pl.concat(
    [
        REPORTS,
        _reports(
            [
                {
                    "modality": "xray",
                    "findings": "x",
                    "impression": "Seen by Dr. Smith on 01/02/2020 <b>unchanged</b>.",
                },
                {
                    "modality": "xray",
                    "findings": "x",
                    "impression": "Seen by Dr. Smith on 01/02/2020 <b>unchanged</b>.",
                },
                {"modality": "xray", "findings": "x", "impression": "<script>alert(1)</script> Normal."},
            ]
        ).with_columns(pl.format("x{}", pl.int_range(pl.len())).alias("report_id")),
    ]
)


def test_shown_impressions_are_redacted():
    stats = eda_statistics(PHI_REPORTS)
    top = stats["top_impressions"].filter(modality="xray")
    assert top["impression"].first() == "seen by dr. [name] on [date] <b>unchanged</b>"
    assert "seen by dr" in stats["top_ngrams"]["ngram"].to_list()
    shown = " ".join([*top["impression"], *stats["top_ngrams"]["ngram"]]).lower()
    assert "smith" not in shown and "2020" not in shown


def test_text_outside_the_kept_fields_is_counted_per_reason():
    reports = _reports([{"modality": "ct", "findings": "Clear.", "impression": "Normal."}] * 2).with_columns(
        pl.Series("other_sections", ["COMPARISON: None.\nSIGN-OFF: Electronically signed.", None])
    )
    tables = eda_statistics(reports)
    rows = {reason: (n, chars) for reason, n, chars in tables["other_sections"].iter_rows()}
    # "None." is 5 characters, "Electronically signed." 22; labels are not counted
    assert rows["comparison"] == (1, 5) and rows["signoff"] == (1, 22) and rows["preamble"] == (0, 0)
    # an export of columns has no such text: every reason, zero
    assert set(eda_statistics(REPORTS)["other_sections"]["chars"]) == {0}
