import json
import time

import polars as pl
import pytest

from radimpress.sim import synthetic
from radimpress.sim.reviewer import extract_stated_findings, review_frame
from radimpress.sim.synthetic import FINDING_TERMS, MODALITIES, generate_reports


def _truth(frame: pl.DataFrame) -> list[list[dict]]:
    return [json.loads(text) for text in frame["ground_truth"]]


def test_same_seed_same_frame_other_seed_other_frame():
    assert generate_reports(50, seed=3).equals(generate_reports(50, seed=3))
    assert not generate_reports(50, seed=3).equals(generate_reports(50, seed=4))


def test_rows_columns_and_ids():
    frame = generate_reports(7, seed=0)
    assert frame.height == 7
    assert frame.columns == [
        "report_id",
        "modality",
        "exam",
        "clinical_information",
        "findings",
        "impression",
        "ground_truth",
    ]
    assert all(dtype == pl.String for dtype in frame.dtypes)
    assert frame["report_id"].to_list() == [f"SYN-00000{i}" for i in range(1, 8)]
    assert frame.null_count().sum_horizontal().item() == 0


def test_zero_rows_keep_the_schema():
    frame = generate_reports(0, seed=0)
    assert frame.height == 0
    assert frame.columns == list(synthetic.COLUMNS)


def test_every_modality_present_and_spread():
    counts = dict(generate_reports(200, seed=1)["modality"].value_counts().iter_rows())
    assert set(counts) == set(MODALITIES)
    assert min(counts.values()) >= 30  # 50 expected each


def test_modalities_argument_restricts_rows():
    frame = generate_reports(40, seed=2, modalities=("ct",))
    assert frame["modality"].unique().to_list() == ["ct"]
    assert frame["exam"].str.starts_with("CT").all()


@pytest.mark.parametrize("modalities", [(), ("pet",), ("mri", "mammography")])
def test_unknown_or_empty_modalities_raise(modalities):
    with pytest.raises(ValueError, match="modalities"):
        generate_reports(5, seed=0, modalities=modalities)


def test_negative_n_raises():
    with pytest.raises(ValueError, match="n must be"):
        generate_reports(-1, seed=0)


def test_ground_truth_entries_have_the_documented_fields():
    keys = {"finding", "location", "side", "severity", "negated", "significant", "in_impression"}
    frame = generate_reports(300, seed=5)
    for modality, entries in zip(frame["modality"], _truth(frame), strict=True):
        for entry in entries:
            assert set(entry) == keys
            assert entry["side"] in (None, "left", "right", "bilateral")
            assert entry["severity"] in (None, "mild", "moderate", "severe")
            assert entry["significant"] == FINDING_TERMS[modality][entry["finding"]]
            assert entry["location"] and "{side}" not in entry["location"]
            if entry["negated"]:
                assert entry["side"] is None and entry["severity"] is None


def test_impression_states_every_in_impression_positive_and_all_significant_ones():
    frame = generate_reports(500, seed=6)
    for impression, entries in zip(frame["impression"], _truth(frame), strict=True):
        for entry in entries:
            if entry["in_impression"]:
                assert entry["finding"] in impression.lower()
            if entry["significant"] and not entry["negated"]:
                assert entry["in_impression"]


def test_normal_share_between_20_and_40_percent():
    truths = _truth(generate_reports(500, seed=7))
    normal = sum(not any(not e["negated"] for e in entries) for entries in truths)
    assert 0.20 <= normal / len(truths) <= 0.40


def test_some_minor_findings_are_left_out_of_the_impression():
    entries = [e for es in _truth(generate_reports(500, seed=8)) for e in es if not e["negated"]]
    minor = [e for e in entries if not e["significant"]]
    assert any(e["in_impression"] for e in minor) and not all(e["in_impression"] for e in minor)


def test_findings_text_states_exactly_the_ground_truth():
    frame = generate_reports(400, seed=9)
    for row, entries in zip(frame.iter_rows(named=True), _truth(frame), strict=True):
        stated = extract_stated_findings(row["findings"], FINDING_TERMS[row["modality"]])
        expected = sorted((e["finding"], e["side"], e["severity"], e["negated"]) for e in entries)
        assert sorted((s.finding, s.side, s.severity, s.negated) for s in stated) == expected, row["findings"]


@pytest.mark.parametrize(("n", "seed"), [(1000, 0), (300, 11)])
def test_reference_impression_scores_full_marks_against_its_own_ground_truth(n, seed):
    frame = generate_reports(n, seed=seed)
    reviews = review_frame(frame.with_columns(pl.col("impression").alias("generated")))
    assert reviews["score"].to_list() == [10.0] * n


def test_significance_of_a_term_agrees_across_regions_of_a_modality():
    for modality, regions in synthetic.REGIONS.items():
        for region in regions:
            for spec in region.findings:
                assert FINDING_TERMS[modality][spec.term] == spec.significant


def test_each_modality_has_8_to_15_terms_with_both_kinds():
    for terms in FINDING_TERMS.values():
        assert 8 <= len(terms) <= 15
        assert set(terms.values()) == {True, False}


def test_normal_wording_states_no_finding():
    for modality, regions in synthetic.REGIONS.items():
        for region in regions:
            texts = [*region.normal_impressions, *synthetic.MINOR_ONLY_IMPRESSIONS]
            texts += [wording for _, wordings in region.normal_statements for wording in wordings]
            for text in texts:
                assert extract_stated_findings(text, FINDING_TERMS[modality]) == [], text


def test_no_placeholders_leak():
    frame = generate_reports(300, seed=12)
    for column in ("exam", "clinical_information", "findings", "impression"):
        assert not frame[column].str.contains(r"[{}]|None").any(), column


def test_thousand_reports_in_under_a_second():
    start = time.perf_counter()
    generate_reports(1000, seed=13)
    assert time.perf_counter() - start < 1.0
