"""Sweeps: grid and random hyper-parameter sets expand into one variant per (model, input, set)."""

from __future__ import annotations

import pytest

from radimpress.config import load_profile
from radimpress.config.variants import expand_variants, hyper_parameter_sets
from radimpress.errors import ProfileError


def _profile(tmp_path, sweep: dict):
    path = tmp_path / "p.yaml"
    import yaml

    path.write_text(yaml.safe_dump({"name": "p", "models": ["tiny-llama"], "sweep": sweep}))
    return load_profile(path)


def test_smoke_profile_sweeps_at_least_twelve_variants_each_unique():
    variants = expand_variants(load_profile("smoke"))
    assert len(variants) == 20  # 2 sets (1 from the grid, 1 drawn at random) x 5 models x 2 inputs
    assert len({v.variant_id for v in variants}) == 20
    rates = {v.train.learning_rate for v in variants}
    assert 0.006 in rates and len(rates) == 2 and all(0.002 <= rate <= 0.008 for rate in rates)


def test_grid_is_every_combination_on_top_of_the_profile(tmp_path):
    profile = _profile(tmp_path, {"grid": {"lora.r": [4, 8], "train.learning_rate": [0.001, 0.01, 0.1]}})
    sets = hyper_parameter_sets(profile)
    assert sorted((lora.r, train.learning_rate) for lora, train in sets) == [
        (r, lr) for r in (4, 8) for lr in (0.001, 0.01, 0.1)
    ]
    assert all(lora.alpha == profile.lora.alpha and train.epochs == profile.train.epochs for lora, train in sets)


def test_random_draws_are_seeded_and_inside_the_space(tmp_path):
    space = {"lora.r": [4, 16], "train.learning_rate": {"low": 1e-4, "high": 1e-2, "log": True}}
    first = hyper_parameter_sets(_profile(tmp_path, {"random": {"n": 6, "seed": 3, "space": space}}))
    again = hyper_parameter_sets(_profile(tmp_path, {"random": {"n": 6, "seed": 3, "space": space}}))
    other = hyper_parameter_sets(_profile(tmp_path, {"random": {"n": 6, "seed": 4, "space": space}}))
    assert first == again and first != other
    assert all(lora.r in (4, 16) and 1e-4 <= train.learning_rate <= 1e-2 for lora, train in first)


def test_tiny_analogs_mirror_the_study_models_at_five_sizes():
    from radimpress.config.catalog import MODEL_REGISTRY

    tiny = {name: spec.tiny for name, spec in MODEL_REGISTRY.items() if spec.tiny}
    assert len(tiny) == 5
    assert all(shape.num_attention_heads == 4 * shape.num_key_value_heads for shape in tiny.values())

    def weights(shape) -> int:
        return shape.num_hidden_layers * shape.hidden_size * (2 * shape.hidden_size + 3 * shape.intermediate_size)

    assert weights(tiny["tiny-llama"]) < weights(tiny["tiny-llama-m"]) < weights(tiny["tiny-llama-l"])
    assert weights(tiny["tiny-mistral"]) < weights(tiny["tiny-mistral-l"])


def test_no_sweep_is_one_set(tmp_path):
    profile = _profile(tmp_path, {})
    assert hyper_parameter_sets(profile) == [(profile.lora, profile.train)]


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"grid": {"lora.rank": [4]}}, "sweep or per_model key 'lora.rank' is not a field of lora or train"),
        ({"grid": {"train.batch_size": [0]}}, "sweep value for batch_size is invalid"),
        ({"grid": {"train.method": ["dora"]}}, "sweep value for method is invalid"),
        ({"random": {"n": 1, "space": {"train.learning_rate": {"low": 0.1, "high": 0.01}}}}, "low < high"),
    ],
)
def test_a_bad_sweep_is_a_one_line_profile_error(tmp_path, sweep, message):
    with pytest.raises(ProfileError, match=message) as caught:
        _profile(tmp_path, sweep)
    assert "\n" not in str(caught.value)


def test_per_model_settings_apply_to_that_models_variants_only(tmp_path):
    import yaml

    path = tmp_path / "p.yaml"
    fields = {
        "name": "p",
        "models": ["tiny-llama", "tiny-mistral"],
        "sweep": {"grid": {"train.learning_rate": [0.001, 0.01]}},
        "per_model": {"tiny-mistral": {"train.method": "qlora", "lora.r": 4}},
    }
    path.write_text(yaml.safe_dump(fields))
    variants = expand_variants(load_profile(path))
    settings = {(v.model, v.train.method, v.lora.r, v.train.learning_rate) for v in variants}
    assert settings == {
        ("tiny-llama", "lora", 8, 0.001),
        ("tiny-llama", "lora", 8, 0.01),
        ("tiny-mistral", "qlora", 4, 0.001),
        ("tiny-mistral", "qlora", 4, 0.01),
    }
    fields["per_model"] = {"tiny-llama-l": {"lora.r": 4}}
    path.write_text(yaml.safe_dump(fields))
    with pytest.raises(ProfileError, match="per_model names tiny-llama-l, which is not in models"):
        load_profile(path)
    fields["per_model"] = {"tiny-llama": {"train.rate": 4}}
    path.write_text(yaml.safe_dump(fields))
    with pytest.raises(ProfileError, match="per_model key 'train.rate' is not a field of lora or train"):
        load_profile(path)
