"""Stage functions (files in, files out) and the content keys that cache them, without a Prefect server."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from radimpress.config import DataConfig, SplitConfig
from radimpress.data.sections import OTHER_REASONS
from radimpress.errors import InjectedFailure, InputDataError
from radimpress.files import read_json
from radimpress.stages.finetune import fail_if_injected
from radimpress.stages.ingest import ingest_stage
from radimpress.stages.keys import digest_path
from radimpress.stages.segment import segment_stage
from radimpress.stages.split import split_stage
from tasks.caching import stage_cache


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RADIMPRESS_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _export(path: Path, findings: list[str]) -> Path:
    pl.DataFrame(
        {
            "report_id": [str(i) for i in range(len(findings))],
            "modality": ["MR"] * len(findings),
            "findings": findings,
            "impression": ["Normal."] * len(findings),
        }
    ).write_csv(path)
    return path


def test_ingest_stage_counts_every_row(tmp_path):
    csv = _export(tmp_path / "reports.csv", ["A finding.", "", "Another finding."])
    ingest_dir = ingest_stage(DataConfig(source="file", path=csv))
    counts = read_json(ingest_dir / "counts.json")
    assert (counts["rows_in"], counts["kept"], counts["quarantined"]) == (3, 2, 1)
    assert counts["quarantined_by_reason"] == {"no_findings": 1}
    quarantine = pl.read_parquet(ingest_dir / "quarantine.parquet")
    assert quarantine["reason"].to_list() == ["no_findings"]
    assert quarantine["detail"].to_list() == ['findings is ""']
    assert counts["other_sections"] == {reason: {"reports": 0, "chars": 0} for reason in OTHER_REASONS}


def test_ingest_stage_counts_the_text_outside_the_kept_fields(tmp_path):
    reports = [
        "CT HEAD\nCOMPARISON: None.\nFINDINGS: No bleed.\nIMPRESSION: Normal.\nDictated by Dr. X.",
        "FINDINGS: Clear. COMPARISON: 1/2/2019. Stable.\nIMPRESSION: Normal.\nPLAN: None needed.",
    ]
    csv = tmp_path / "free_text.csv"
    pl.DataFrame({"report_id": ["1", "2"], "report": reports}).write_csv(csv)
    counts = read_json(ingest_stage(DataConfig(source="file", path=csv, columns={"text": "report"})) / "counts.json")
    assert counts["other_sections"] == {
        "preamble": {"reports": 0, "chars": 0},  # "CT HEAD" is the exam title
        "comparison": {"reports": 2, "chars": len("None.") + len("1/2/2019.")},
        "technique": {"reports": 0, "chars": 0},
        "after_impression": {"reports": 1, "chars": len("None needed.")},
        "signoff": {"reports": 1, "chars": len("Dictated by Dr. X.")},
    }


def test_stage_folder_follows_file_content_not_name(tmp_path):
    first = _export(tmp_path / "a.csv", ["A finding."])
    same_bytes = _export(tmp_path / "b.csv", ["A finding."])
    assert digest_path(first) == digest_path(same_bytes)
    folder = ingest_stage(DataConfig(source="file", path=first))
    assert ingest_stage(DataConfig(source="file", path=first)) == folder
    _export(first, ["An edited finding."])
    assert ingest_stage(DataConfig(source="file", path=first)) != folder


def test_segment_stage_names_a_missing_modelled_modality(tmp_path):
    ingest_dir = ingest_stage(DataConfig(source="file", path=_export(tmp_path / "r.csv", ["A finding."])))
    assert set(segment_stage(ingest_dir, ["mri"])) == {"mri"}
    with pytest.raises(InputDataError, match="no 'ct' reports to model .*modalities found: mri"):
        segment_stage(ingest_dir, ["ct"])


def test_split_stage_writes_three_files_that_partition_the_dataset(tmp_path):
    dataset = tmp_path / "mri.parquet"
    pl.DataFrame({"report_id": [str(i) for i in range(200)], "findings": ["x"] * 200}).write_parquet(dataset)
    splits = split_stage(dataset, SplitConfig())
    ids = [set(pl.read_parquet(splits[name])["report_id"]) for name in ("train", "validation", "test")]
    assert sum(len(s) for s in ids) == 200 and set.union(*ids) == {str(i) for i in range(200)}


def test_injected_failures_fail_the_first_attempts_only(tmp_path):
    for attempt in (1, 2):
        with pytest.raises(InjectedFailure, match=f"injected failure {attempt} of 2"):
            fail_if_injected(tmp_path, 2)
    fail_if_injected(tmp_path, 2)  # the third attempt goes through


def test_task_key_is_the_stage_key_and_follows_file_content(tmp_path, data_dir):
    policy = stage_cache(split_stage)
    path = _export(tmp_path / "r.csv", ["A finding."])
    ingest_dir = ingest_stage(DataConfig(source="file", path=path))
    parameters = {"ingest_dir": ingest_dir, "model_modalities": ["mri"]}
    key = stage_cache(segment_stage).compute_key(None, parameters, {})
    assert key == stage_cache(segment_stage).compute_key(None, dict(parameters), {})
    assert policy.compute_key(None, {"dataset": path, "cfg": SplitConfig()}, {}) != key
    # The folder a stage writes is named by the same key Prefect caches under (minus the task's own source).
    folder = segment_stage(**parameters)["mri"].parent
    assert folder.name == segment_stage.key(**parameters)[:16]
    assert folder.parent == data_dir / "stages" / "segment"


def test_split_stage_refuses_a_modality_too_small_to_split(tmp_path):
    dataset = tmp_path / "ct.parquet"
    pl.DataFrame({"report_id": ["1"], "findings": ["x"]}).write_parquet(dataset)
    with pytest.raises(InputDataError, match="ct: the validation split is empty .*raise split.validation"):
        split_stage(dataset, SplitConfig())
