import polars as pl
import pytest

from radimpress.config import SplitConfig
from radimpress.segment import segment_by_modality
from radimpress.split import SPLITS, split_reports


def _modality_codes(modality: list[str | None], exam: list[str | None]) -> list[str]:
    reports = pl.DataFrame(
        {"report_id": [str(i) for i in range(len(exam))], "modality": modality, "exam": exam},
        schema={"report_id": pl.String, "modality": pl.String, "exam": pl.String},
    )
    codes = {rid: code for code, frame in segment_by_modality(reports).items() for rid in frame["report_id"]}
    return [codes[str(i)] for i in range(len(exam))]


@pytest.mark.parametrize(
    ("exam", "code"),
    [
        ("MR brain", "mri"),
        ("MRI lumbar spine", "mri"),
        ("CTA chest", "ct"),
        ("CT head without contrast", "ct"),
        ("XR chest PA and lateral", "xray"),
        ("Chest radiograph", "xray"),
        ("US abdomen", "ultrasound"),
        ("Doppler lower extremity veins", "ultrasound"),
        ("ACT score review", "unknown"),  # "CT" inside a word is not CT
        ("Bone densitometry", "unknown"),
        (None, "unknown"),
    ],
)
def test_exam_text_gives_the_modality(exam, code):
    assert _modality_codes([None], [exam]) == [code]


def test_modality_column_is_read_before_the_exam_text():
    codes = _modality_codes(
        ["MR", "CT", "US", "Ultrasound", "XR", None],
        ["", None, "US-guided biopsy after CT", "CT-correlated abdomen", "Chest, compare prior CT", "CT head"],
    )
    assert codes == ["mri", "ct", "ultrasound", "ultrasound", "xray", "ct"]


def test_segments_keep_rows_and_order():
    reports = pl.DataFrame(
        {
            "report_id": ["1", "2", "3", "4", "5"],
            "modality": ["MR", None, "MR", "PET", "CT"],
            "exam": ["MR knee", "CT chest", "MR brain", "PET whole body", "CT head"],
            "findings": ["a", "b", "c", "d", "e"],
        }
    )
    segments = segment_by_modality(reports)
    assert sorted(segments) == ["ct", "mri", "unknown"]
    assert segments["mri"]["report_id"].to_list() == ["1", "3"]
    assert segments["ct"]["report_id"].to_list() == ["2", "5"]
    assert segments["unknown"]["findings"].to_list() == ["d"]
    assert segments["ct"]["modality"].to_list() == ["ct", "ct"]  # the code replaces the raw value
    assert sum(frame.height for frame in segments.values()) == reports.height
    assert reports["modality"].to_list() == ["MR", None, "MR", "PET", "CT"]  # input not mutated


def _reports(n: int) -> pl.DataFrame:
    return pl.DataFrame({"report_id": [f"R{i:05d}" for i in range(n)], "findings": [f"finding {i}" for i in range(n)]})


CFG = SplitConfig(train=0.7, validation=0.1, test=0.2, seed=0)


def test_split_is_deterministic_disjoint_and_complete():
    reports = _reports(300)
    first, second = split_reports(reports, CFG), split_reports(reports.reverse(), CFG)
    assert list(first) == list(SPLITS)
    for name in SPLITS:
        assert first[name].equals(second[name])  # row order of the input does not matter
        assert first[name]["report_id"].is_sorted()
    ids = [set(first[name]["report_id"]) for name in SPLITS]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert set().union(*ids) == set(reports["report_id"])
    assert sum(first[name].height for name in SPLITS) == reports.height
    assert first["train"].columns == reports.columns


def test_split_roughly_follows_the_shares():
    sizes = {name: frame.height for name, frame in split_reports(_reports(2000), CFG).items()}
    assert sizes["train"] == pytest.approx(1400, abs=70)
    assert sizes["validation"] == pytest.approx(200, abs=45)
    assert sizes["test"] == pytest.approx(400, abs=60)


def test_another_seed_gives_another_split():
    reports = _reports(200)
    other = SplitConfig(train=0.7, validation=0.1, test=0.2, seed=1)
    assert not split_reports(reports, CFG)["test"].equals(split_reports(reports, other)["test"])


def test_editing_one_report_moves_no_other_report():
    reports = _reports(300)
    edited = reports.with_columns(
        pl.when(pl.col("report_id") == "R00007").then(pl.lit("rewritten text")).otherwise("findings").alias("findings")
    )
    before, after = split_reports(reports, CFG), split_reports(edited, CFG)
    for name in SPLITS:
        assert before[name]["report_id"].to_list() == after[name]["report_id"].to_list()
    changed = [name for name in SPLITS if not before[name].equals(after[name])]
    assert len(changed) == 1  # only the edited report's split differs, and only in that row


def test_adding_reports_moves_no_existing_report():
    before, after = split_reports(_reports(300), CFG), split_reports(_reports(400), CFG)
    for name in SPLITS:
        old = set(before[name]["report_id"])
        assert old == set(after[name]["report_id"]) & set(_reports(300)["report_id"])
