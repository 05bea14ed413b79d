"""The optional vLLM backend: what can be checked without vLLM and a GPU (neither is in CI).

Checked: the one-line failure when a profile asks for vLLM on a machine without it (at `radimpress check` and when
a run starts), the settings it would pass, and the profile rules. Not checked here: an engine generating tokens.
"""

import importlib.util
import json

import pytest

from radimpress.cli import main
from radimpress.config import GenerateConfig, Profile
from radimpress.modeling.vllm import (
    VllmUnavailableError,
    engine_options,
    max_lora_rank,
    require_vllm,
    sampling_arguments,
)

VLLM_INSTALLED = importlib.util.find_spec("vllm") is not None


@pytest.mark.skipif(VLLM_INSTALLED, reason="vLLM is installed here")
def test_missing_vllm_is_one_actionable_line():
    with pytest.raises(VllmUnavailableError) as error:
        require_vllm()
    assert "pip install vllm" in str(error.value) and "generate.backend 'transformers'" in str(error.value)


@pytest.mark.skipif(VLLM_INSTALLED, reason="vLLM is installed here")
def test_check_fails_before_any_work_when_the_profile_asks_for_vllm(tmp_path, capsys):
    profile = tmp_path / "vllm.yaml"
    profile.write_text("name: vllm-test\ndata: {source: synthetic, n_reports: 40}\ngenerate: {backend: vllm}\n")
    assert main(["check", str(profile)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("radimpress: generate.backend 'vllm' needs vLLM")


def test_greedy_and_sampling_map_to_vllm_sampling_params():
    assert sampling_arguments(GenerateConfig(max_new_tokens=40)) == {"temperature": 0.0, "max_tokens": 40}
    sampled = GenerateConfig(max_new_tokens=40, do_sample=True, temperature=0.7, top_p=0.9, seed=3)
    assert sampling_arguments(sampled) == {"temperature": 0.7, "top_p": 0.9, "seed": 3, "max_tokens": 40}


def test_beam_search_is_refused_for_vllm_at_profile_load():
    with pytest.raises(ValueError, match="beam search"):
        Profile.model_validate({"name": "x", "generate": {"backend": "vllm", "num_beams": 4}})


@pytest.mark.parametrize(("rank", "expected"), [(8, 64), (64, 64), (100, 128), (256, 256)])
def test_engine_lora_rank_holds_the_adapter(tmp_path, rank, expected):
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": rank}))
    assert max_lora_rank(tmp_path) == expected


def test_adapter_rank_above_vllms_limit_is_refused(tmp_path):
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 512}))
    with pytest.raises(Exception, match="above vLLM's largest"):
        max_lora_rank(tmp_path)


def test_engine_options_follow_the_profile_and_the_adapter():
    cfg = GenerateConfig(max_new_tokens=40, gpu_memory_utilization=0.5)
    assert engine_options(cfg, quantized=True, lora_rank=64) == {
        "gpu_memory_utilization": 0.5,
        "enable_lora": True,
        "max_lora_rank": 64,
        "max_loras": 4,
        "quantization": "bitsandbytes",
    }
    assert engine_options(cfg, quantized=False, lora_rank=None) == {"gpu_memory_utilization": 0.5}
