"""`radimpress check`: fixable errors exit 2 with one line on stderr, both in-process and as the installed script."""

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from radimpress.cli import main

SCRIPT = Path(sys.executable).with_name("radimpress")
EXPORT = pl.DataFrame(
    {
        "report_id": ["1", "2", "3", "4"],
        "modality": ["MR", "MR", "CT", "MR"],
        "exam": ["MR brain", "MR knee", "CT head", "MR spine"],
        "clinical_information": ["Headache.", "Pain.", "Fall.", "Back pain."],
        "findings": ["Normal brain.", "ACL tear.", "No bleed.", ""],  # 2: the impression only repeats it
        "impression": ["Normal.", "ACL tear.", "No hemorrhage.", "Normal."],
    }
)


def _profile(folder: Path, csv: Path | None = None, **fields) -> Path:
    """A profile YAML reading `csv` (reviewers' scores, so no synthetic ground truth needed)."""
    profile = {"name": "cli-test", "review": {"source": "file"}}
    if csv is not None:
        profile["data"] = {"source": "file", "path": str(csv)}
    path = folder / "profile.yaml"
    path.write_text(yaml.safe_dump(profile | fields))
    return path


def _csv(folder: Path, frame: pl.DataFrame) -> Path:
    path = folder / "reports.csv"
    frame.write_csv(path)
    return path


def _run_both(argv: list[str], capsys, cwd: Path) -> list[tuple[int, str, str]]:
    """(exit status, stdout, stderr) of main() in-process and of the installed console script."""
    status = main(argv)
    captured = capsys.readouterr()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([str(SCRIPT), *argv], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)
    return [(status, captured.out, captured.err), (done.returncode, done.stdout, done.stderr)]


def _one_line_error(argv: list[str], capsys, cwd: Path) -> str:
    runs = _run_both(argv, capsys, cwd)
    for status, out, err in runs:
        assert status == 2, err
        assert out == ""
        assert "Traceback" not in err
        assert err.endswith("\n") and err.count("\n") == 1, err
        assert err.startswith("radimpress: ")
    assert runs[0][2] == runs[1][2]  # the script says exactly what main() says
    return runs[0][2].strip()


def test_console_script_is_installed():
    assert SCRIPT.is_file() and os.access(SCRIPT, os.X_OK)


def test_invalid_profile_field(tmp_path, capsys):
    profile = _profile(tmp_path, _csv(tmp_path, EXPORT), train={"lr": 1})
    error = _one_line_error(["check", str(profile)], capsys, tmp_path)
    assert "train.lr: unknown field" in error


def test_unknown_model_name(tmp_path, capsys):
    profile = _profile(tmp_path, _csv(tmp_path, EXPORT), models=["tiny-llama", "gpt-17"])
    error = _one_line_error(["check", str(profile)], capsys, tmp_path)
    assert "unknown model 'gpt-17'" in error
    assert "tiny-mistral" in error


def test_unknown_shipped_profile(tmp_path, capsys):
    error = _one_line_error(["check", "no-such-profile"], capsys, tmp_path)
    assert error.startswith("radimpress: unknown profile 'no-such-profile'; shipped profiles: ")


def test_missing_input_file(tmp_path, capsys):
    profile = _profile(tmp_path, tmp_path / "absent.csv")
    error = _one_line_error(["check", str(profile)], capsys, tmp_path)
    assert error == f"radimpress: input file not found: {tmp_path / 'absent.csv'}"


def test_missing_required_column(tmp_path, capsys):
    profile = _profile(tmp_path, _csv(tmp_path, EXPORT.drop("findings")))
    error = _one_line_error(["check", str(profile)], capsys, tmp_path)
    assert "no column 'findings' for findings (set data.columns.findings)" in error


def test_empty_findings_column(tmp_path, capsys):
    profile = _profile(tmp_path, _csv(tmp_path, EXPORT.with_columns(pl.lit("").alias("findings"))))
    error = _one_line_error(["check", str(profile)], capsys, tmp_path)
    assert "column 'findings' (findings)" in error
    assert "empty in every row" in error


def test_valid_file_profile_reports_usable_and_quarantined_rows(tmp_path, capsys):
    profile = _profile(tmp_path, _csv(tmp_path, EXPORT))
    for status, out, err in _run_both(["check", str(profile)], capsys, tmp_path):
        assert (status, err) == (0, "")
        expected = "2 reports usable, 2 quarantined (impression_equals_findings 1, no_findings 1)"
        assert out == f"data: {expected}\nmodalities: ct 1, mri 1 (modelled)\nprofile 'cli-test' is valid\n"


def test_no_usable_report_is_an_error_not_valid(tmp_path, capsys):
    nothing_usable = EXPORT.with_columns(pl.col("findings").alias("impression"))  # each impression repeats findings
    profile = _profile(tmp_path, _csv(tmp_path, nothing_usable))
    error = _one_line_error(["check", str(profile)], capsys, tmp_path)
    assert error == (
        "radimpress: no report is usable: all 4 rows were quarantined (impression_equals_findings 3, no_findings 1)"
    )


def test_a_modelled_modality_without_reports_fails_at_check_not_at_segment(tmp_path, capsys):
    data = {"source": "file", "path": str(_csv(tmp_path, EXPORT)), "model_modalities": ["mri", "ultrasound"]}
    profile = _profile(tmp_path, data=data)
    error = _one_line_error(["check", str(profile)], capsys, tmp_path)
    assert error.endswith("no 'ultrasound' reports to model (data.model_modalities); modalities found: ct 1, mri 1")


def test_a_misspelt_modality_is_refused_at_load_naming_the_known_ones(tmp_path, capsys):
    data = {"source": "file", "path": str(_csv(tmp_path, EXPORT)), "model_modalities": ["mri", "mammo"]}
    profile = _profile(tmp_path, data=data)
    error = _one_line_error(["check", str(profile)], capsys, tmp_path)
    assert "data.model_modalities" in error and "'mammo' is not a modality" in error
    assert "mri, ct, ultrasound, mammography, nuclear_medicine, fluoroscopy, xray, unknown" in error


def test_shipped_smoke_profile_checks(tmp_path, capsys):
    for status, out, err in _run_both(["check", "smoke"], capsys, tmp_path):
        assert (status, err) == (0, "")
        assert out.startswith("data: 800 reports usable")
        assert "\nmodalities: " in out and "mri " in out and "(modelled)" in out
        assert out.endswith("profile 'smoke' is valid\n") and "memory plan" not in out  # tiny models: no GPU plan


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_synthesize_writes_reports(tmp_path, capsys, suffix):
    path = tmp_path / f"reports{suffix}"
    assert main(["synthesize", str(path), "--n", "7", "--seed", "2"]) == 0
    assert capsys.readouterr().out == f"wrote 7 synthetic reports to {path}\n"
    frame = pl.read_csv(path) if suffix == ".csv" else pl.read_parquet(path)
    assert frame.height == 7
    assert frame["report_id"].to_list()[0] == "SYN-000001"


def test_check_of_the_study_profile_plans_memory_and_names_every_download(tmp_path, capsys, monkeypatch):
    from radimpress.sim.synthetic import generate_reports

    export = tmp_path / "export.csv"
    generate_reports(60, seed=0).drop("ground_truth").write_csv(export)
    monkeypatch.setenv("RADIMPRESS_EXPORT", str(export))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))  # no weights on this machine
    models = ["llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b", "mistral-7b", "mistral-small-22b"]
    for status, out, err in _run_both(["check", "study"], capsys, tmp_path):
        assert status == 2 and "Traceback" not in err and err.count("\n") == 1
        assert err.startswith(f"radimpress: 5 of the profile's models are not on this machine: {', '.join(models)}")
        plan = [line for line in out.splitlines() if line.startswith("| ") and "micro-batch" in line]
        # 5 models x 2 LoRA ranks of the sweep, and the judge; every one fits both GPUs
        assert len(plan) == 11 and {line.split(" | ")[0][2:] for line in plan} == set(models)
        assert "| mistral-small-22b | fine-tune | qlora | 1024 | 2 | 16 |" in out
        assert "  hf download meta-llama/Llama-3.2-1B    # llama-3.2-1b" in out
        assert "  hf download mistralai/Mistral-Small-Instruct-2409    # mistral-small-22b" in out
        assert out.index("memory plan per GPU") < out.index("to download")
        assert "data:" not in out and "is valid" not in out  # it fails before any work


def test_check_counts_the_text_outside_the_kept_fields(tmp_path, capsys):
    text = "CT HEAD\nFINDINGS: No bleed.\nCOMPARISON: None.\nIMPRESSION: Normal.\nElectronically signed by X."
    export = pl.DataFrame({"report_id": ["1", "2"], "report": [text, text.replace("No bleed", "Old infarct")]})
    data = {"source": "file", "path": str(_csv(tmp_path, export)), "columns": {"text": "report"}}
    profile = _profile(tmp_path, data={**data, "model_modalities": ["ct"]})
    for status, out, err in _run_both(["check", str(profile)], capsys, tmp_path):
        assert (status, err) == (0, "")
        # "None." is 5 characters, "Electronically signed by X." 27
        expected = "comparison 2 reports (10 chars), signoff 2 reports (54 chars)"
        assert f"text outside the kept fields (other_sections): {expected}\n" in out
