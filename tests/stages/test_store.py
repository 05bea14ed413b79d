"""Stage folders: named by the stage's key, published atomically, reused when finished, never trusted half-written;
keys that follow inputs by content, the code a stage reaches and library versions; cheap keys for model folders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import stages_for_tests
import torch
from safetensors.torch import save_file
from stages_for_tests import resumable, two_files, with_facts

from radimpress.stages import codegraph, keys
from radimpress.stages.keys import STAGE_RECORD, fingerprint, manifest, stage_key
from radimpress.stages.store import stage_root

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RADIMPRESS_DATA_DIR", str(tmp_path / "data"))
    stages_for_tests.CALLS.clear()
    return tmp_path / "data"


def test_a_finished_stage_is_served_from_its_folder_without_running_again():
    result = two_files(3)
    assert json.loads(result["second"].read_text()) == {"n": 6}
    assert result["first"].parent.name == two_files.key(3)[:16]
    assert two_files(3) == result
    assert stages_for_tests.CALLS == ["two_files"]
    assert two_files(4)["first"].parent != result["first"].parent
    assert stages_for_tests.CALLS == ["two_files", "two_files"]


def test_a_stage_killed_mid_write_leaves_nothing_a_later_run_takes_for_a_result(tmp_path, data_dir):
    pause = tmp_path / "pause"
    pause.touch()
    script = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import stages_for_tests as s; s.two_files(5, {str(pause)!r})"  # noqa: E501
    )
    worker = subprocess.Popen([sys.executable, "-c", script], env=os.environ | {"RADIMPRESS_DATA_DIR": str(data_dir)})
    folder = stage_root("test-two-files") / two_files.key(5)[:16]
    partial = folder.with_name(folder.name + ".partial")
    deadline = time.monotonic() + 60
    while not (partial / "waiting").exists():
        assert worker.poll() is None and time.monotonic() < deadline, "the worker never reached its pause"
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    assert (partial / "first.json").is_file() and not (partial / "second.json").exists()
    assert not folder.exists()  # the half-written stage never took the result's name

    result = two_files(5)  # the next run redoes it from the start
    assert stages_for_tests.CALLS == ["two_files"]
    assert json.loads(result["second"].read_text()) == {"n": 10}
    assert not partial.exists() and (folder / STAGE_RECORD).is_file()


def test_a_failed_resumable_stage_keeps_its_partial_folder_for_the_next_attempt():
    with pytest.raises(RuntimeError, match="failed on purpose"):
        resumable(1, fail=True)
    with pytest.raises(RuntimeError):
        resumable(1, fail=True)
    partial = stage_root("test-resumable") / (resumable.key(1, fail=True)[:16] + ".partial")
    assert partial.joinpath("attempts.txt").read_text() == "2"


def test_a_failed_stage_that_cannot_resume_starts_afresh():
    folder = stage_root("test-two-files") / two_files.key(7)[:16]
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True)
    (partial / "second.json").write_text('{"n": "stale"}')
    assert json.loads(two_files(7)["second"].read_text()) == {"n": 14}


def test_run_facts_stay_out_of_downstream_keys():
    first, second = with_facts(1, seconds=1.5), with_facts(1, seconds=9.0)
    assert first.parent != second.parent  # the facts were arguments here, so the two runs have two folders
    assert json.loads((second.parent / "run.json").read_text()) == {"seconds": 9.0}
    assert fingerprint(first.parent) == fingerprint(second.parent)  # what a downstream stage keys on
    assert fingerprint(first) == fingerprint(second)
    assert fingerprint(with_facts(2).parent) != fingerprint(first.parent)


def test_a_finished_stage_is_keyed_by_its_recorded_digests_without_reading_its_files(monkeypatch):
    result = two_files(3)
    expected = fingerprint(result["first"].parent)
    monkeypatch.setattr(keys, "file_digest", lambda path: pytest.fail(f"read {path} again"))
    assert fingerprint(result["first"].parent) == expected
    assert fingerprint(result["first"]) != fingerprint(result["second"])


def test_the_key_covers_every_module_the_stage_reaches(monkeypatch, tmp_path):
    reached = codegraph.reachable("radimpress.stages.generate")
    assert {"radimpress.modeling.generate", "radimpress.modeling.loading", "radimpress.modeling.prompts"} <= set(
        reached
    )
    assert "radimpress.modeling.train" in codegraph.reachable("radimpress.stages.judge")  # the judge is fine-tuned
    assert "radimpress.sim.tiny" not in reached  # demo code stays out of a real model's keys

    before = stage_key("radimpress.stages.generate", {"x": 1})
    edited = tmp_path / "loading.py"
    edited.write_text(codegraph.library_modules()["radimpress.modeling.loading"].read_text() + "\n# a change\n")
    real = codegraph.source_path
    monkeypatch.setattr(codegraph, "source_path", lambda m: edited if m == "radimpress.modeling.loading" else real(m))
    codegraph.code_digest.cache_clear()
    try:
        assert stage_key("radimpress.stages.generate", {"x": 1}) != before
        assert stage_key("radimpress.stages.split", {"x": 1}) == _without_patch(monkeypatch, real)
    finally:
        codegraph.code_digest.cache_clear()


def _without_patch(monkeypatch, real) -> str:
    monkeypatch.setattr(codegraph, "source_path", real)
    codegraph.code_digest.cache_clear()
    return stage_key("radimpress.stages.split", {"x": 1})


def test_the_key_covers_library_versions(monkeypatch):
    versions = keys.library_versions()
    assert versions["torch"] == torch.__version__ and versions["peft"] and versions["python"]
    before = stage_key("radimpress.stages.split", {"x": 1})
    monkeypatch.setattr(keys, "library_versions", lambda: versions | {"transformers": "99.0"})
    assert stage_key("radimpress.stages.split", {"x": 1}) != before


def _model_folder(folder: Path, shape: tuple[int, int] = (4, 4), fill: float = 1.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"hidden_size": shape[1]}))
    save_file({"w": torch.full(shape, fill)}, str(folder / "model.safetensors"))
    return folder


def test_a_model_folder_is_keyed_by_its_manifest(tmp_path, monkeypatch):
    folder = _model_folder(tmp_path / "model")
    key = fingerprint(folder)
    assert set(key) == {"manifest"}
    entry = manifest(folder)["model.safetensors"]
    assert entry["size"] == (folder / "model.safetensors").stat().st_size and len(entry["header"]) == 64
    real_digest = keys.file_digest
    monkeypatch.setattr(
        keys, "file_digest", lambda p: pytest.fail("read weights") if p.suffix == ".safetensors" else real_digest(p)
    )
    assert fingerprint(_model_folder(tmp_path / "copy")) == key  # same files elsewhere: same key, weights unread
    assert fingerprint(_model_folder(tmp_path / "wider", shape=(4, 8))) != key  # a new shape changes the header
    (tmp_path / "copy" / "config.json").write_text('{"hidden_size": 5}')
    assert fingerprint(tmp_path / "copy") != key


def test_a_hub_snapshot_is_keyed_by_its_commit(tmp_path):
    snapshot = _model_folder(tmp_path / "hub" / "models--meta-llama--Llama-3.2-1B" / "snapshots" / "abc123")
    assert fingerprint(snapshot) == {"hub_snapshot": "meta-llama/Llama-3.2-1B@abc123"}
    assert fingerprint(snapshot / "config.json") == {"hub_snapshot": "meta-llama/Llama-3.2-1B@abc123:config.json"}


def test_a_plain_file_is_keyed_by_its_bytes_not_its_name(tmp_path):
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.csv").write_text("x\n1\n")
    assert fingerprint(tmp_path / "a.csv") == fingerprint(tmp_path / "b.csv")
    (tmp_path / "b.csv").write_text("x\n2\n")
    assert fingerprint(tmp_path / "a.csv") != fingerprint(tmp_path / "b.csv")
    assert fingerprint(tmp_path / "absent.csv") == {"missing": str(tmp_path / "absent.csv")}
