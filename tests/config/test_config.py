from pathlib import Path

import pytest
import yaml

from radimpress.config import Profile, load_profile, shipped_profiles
from radimpress.config.catalog import MODEL_REGISTRY
from radimpress.errors import ProfileError


def _write_profile(folder: Path, fields: object, name: str = "profile.yaml") -> Path:
    path = folder / name
    path.write_text(fields if isinstance(fields, str) else yaml.safe_dump(fields))
    return path


def _profile_error(path: Path | str) -> str:
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert "\n" not in message, message
    return message


def test_smoke_profile_is_shipped():
    assert "smoke" in shipped_profiles()


@pytest.mark.parametrize("name", shipped_profiles())
def test_every_shipped_profile_loads(name, monkeypatch, tmp_path):
    monkeypatch.setenv("RADIMPRESS_IU_XRAY", str(tmp_path / "indiana_reports.csv"))  # iu_xray names its data so
    monkeypatch.setenv("RADIMPRESS_EXPORT", str(tmp_path / "export.csv"))  # and study
    profile = load_profile(name)
    assert isinstance(profile, Profile)
    assert profile.name == name
    assert all(model in MODEL_REGISTRY for model in [*profile.models, profile.judge.model])


def test_profile_loads_by_path_with_defaults(tmp_path):
    profile = load_profile(_write_profile(tmp_path, {"name": "mine", "train": {"learning_rate": 0.01}}))
    assert profile.name == "mine"
    assert profile.train.learning_rate == 0.01
    assert profile.train.batch_size == 16  # untouched fields keep their defaults
    assert profile.split.train == 0.8


def test_unknown_top_level_field_is_named(tmp_path):
    message = _profile_error(_write_profile(tmp_path, {"name": "x", "trian": {"epochs": 1}}))
    assert "trian: unknown field" in message


def test_unknown_nested_field_is_named_with_its_dotted_path(tmp_path):
    message = _profile_error(_write_profile(tmp_path, {"name": "x", "train": {"lr": 1}}))
    assert "train.lr: unknown field" in message


def test_several_errors_share_one_line(tmp_path):
    fields = {"name": "x", "train": {"lr": 1}, "lora": {"rank": 4}}
    message = _profile_error(_write_profile(tmp_path, fields))
    assert "train.lr: unknown field" in message
    assert "lora.rank: unknown field" in message


def test_invalid_value_names_the_field(tmp_path):
    message = _profile_error(_write_profile(tmp_path, {"name": "x", "train": {"learning_rate": -1}}))
    assert "train.learning_rate" in message
    assert "greater than 0" in message


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"models": ["tiny-llama", "gpt-17"]}, "models"), ({"judge": {"model": "gpt-17"}}, "judge.model")],
)
def test_unknown_model_is_named_with_the_known_ones(tmp_path, fields, field):
    message = _profile_error(_write_profile(tmp_path, {"name": "x", **fields}))
    assert f"{field}: unknown model 'gpt-17'" in message
    assert all(known in message for known in MODEL_REGISTRY)


def test_split_shares_must_sum_to_one(tmp_path):
    split = {"train": 0.7, "validation": 0.1, "test": 0.1}
    message = _profile_error(_write_profile(tmp_path, {"name": "x", "split": split}))
    assert "split" in message
    assert "sum to 1" in message


def test_file_source_needs_a_path(tmp_path):
    fields = {"name": "x", "data": {"source": "file"}, "review": {"source": "file"}}
    message = _profile_error(_write_profile(tmp_path, fields))
    assert "data.path is required" in message


def test_simulated_review_needs_ground_truth_in_file_data(tmp_path):
    fields = {"name": "x", "data": {"source": "file", "path": str(tmp_path / "reports.csv")}}
    message = _profile_error(_write_profile(tmp_path, fields))
    assert "review.source 'simulated'" in message
    assert "data.columns.ground_truth" in message


def test_file_data_with_ground_truth_column_may_use_simulated_review(tmp_path):
    data = {"source": "file", "path": str(tmp_path / "reports.csv"), "columns": {"ground_truth": "truth"}}
    profile = load_profile(_write_profile(tmp_path, {"name": "x", "data": data}))
    assert profile.review.source == "simulated"
    assert profile.data.columns.ground_truth == "truth"


def test_missing_profile_file(tmp_path):
    message = _profile_error(tmp_path / "absent.yaml")
    assert message == f"profile file not found: {tmp_path / 'absent.yaml'}"


def test_unknown_shipped_profile_lists_the_shipped_ones():
    message = _profile_error("no-such-profile")
    assert "unknown profile 'no-such-profile'" in message
    assert all(name in message for name in shipped_profiles())


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", ""])
def test_profile_must_be_a_mapping(tmp_path, text):
    message = _profile_error(_write_profile(tmp_path, text))
    assert "must be a YAML mapping" in message


def test_malformed_yaml_is_one_line(tmp_path):
    message = _profile_error(_write_profile(tmp_path, "name: x\ntrain: {epochs: [1,\n"))
    assert "is not valid YAML" in message


def test_profile_needs_a_name(tmp_path):
    message = _profile_error(_write_profile(tmp_path, {"description": "no name"}))
    assert "name: Field required" in message


def test_selection_metric_must_be_a_score(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nselect: {metric: rougeL_F1}\n")
    with pytest.raises(ProfileError, match="select.metric 'rougeL_F1' is not a score; choose one of rouge1_precision"):
        load_profile(path)


def test_repeated_models_are_rejected(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nmodels: [tiny-llama, tiny-llama]\n")
    with pytest.raises(ProfileError, match="models: entries must be unique"):
        load_profile(path)


@pytest.mark.parametrize(("field", "value"), [("model_modalities", ["mri", "mammo"]), ("default_modality", "MR")])
def test_an_unknown_modality_is_refused_at_load_naming_the_known_ones(tmp_path, field, value):
    path = _write_profile(tmp_path, {"name": "m", "data": {field: value}})
    bad = "mammo" if field == "model_modalities" else "MR"
    known = "mri, ct, ultrasound, mammography, nuclear_medicine, fluoroscopy, xray, unknown"
    with pytest.raises(ProfileError, match=rf"data\.{field}.*'{bad}' is not a modality; the known ones are: {known}"):
        load_profile(path)


def test_a_path_names_an_environment_variable(tmp_path, monkeypatch):
    raw = {"name": "env", "data": {"source": "file", "path": "${REPORTS_DIR}/export.csv"}, "review": {"source": "file"}}
    monkeypatch.setenv("REPORTS_DIR", str(tmp_path))
    assert load_profile(_write_profile(tmp_path, raw)).data.path == tmp_path / "export.csv"
    monkeypatch.delenv("REPORTS_DIR")
    with pytest.raises(ProfileError, match=r"data\.path: names environment variable REPORTS_DIR, which is not set"):
        load_profile(_write_profile(tmp_path, raw))


def test_models_are_chosen_on_a_validation_split_that_exists(tmp_path):
    raw = {"name": "x", "split": {"train": 0.9, "validation": 0.0, "test": 0.1}}
    with pytest.raises(ProfileError, match="split.validation: Input should be greater than 0"):
        load_profile(_write_profile(tmp_path, raw))


def test_rouge_lsum_can_choose_the_top_models(tmp_path):
    assert load_profile(_write_profile(tmp_path, {"name": "x", "select": {"metric": "rougeLsum_f1"}})).select


@pytest.mark.parametrize(
    ("model", "learning_rate", "batch_size"),
    [("llama-3.2-1b", 2e-4, 8), ("llama-3.1-8b", 1e-4, 4), ("mistral-7b", 1e-4, 4), ("mistral-small-22b", 5e-5, 2)],
)
def test_a_real_judge_model_gets_defaults_for_its_size(model, learning_rate, batch_size):
    from radimpress.config import JudgeConfig

    judge = JudgeConfig(model=model)
    assert (judge.train.learning_rate, judge.train.batch_size) == (learning_rate, batch_size)
    assert judge.train.batch_size * judge.train.gradient_accumulation_steps == 16
    assert (judge.lora.r, judge.lora.alpha) == (16, 32)


def test_what_the_profile_sets_wins_over_the_size_defaults_and_tiny_models_keep_theirs():
    from radimpress.config import JudgeConfig

    judge = JudgeConfig(model="llama-3.1-8b", train={"learning_rate": 3e-4}, lora={"r": 4})
    assert judge.train.learning_rate == 3e-4 and judge.train.batch_size == 4  # set, and followed the size
    assert judge.lora.r == 4 and judge.lora.alpha == 32
    tiny = JudgeConfig(model="tiny-llama")
    assert tiny.train.learning_rate == 2e-3 and tiny.lora.r == 8  # the tiny analog keeps the profile defaults
    assert JudgeConfig.model_validate(judge.model_dump()) == judge  # a logged profile reloads to the same judge
    smoke = load_profile("smoke").judge
    assert smoke.train.learning_rate == 0.003 and smoke.perturbations == 1000
