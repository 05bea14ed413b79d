"""The memory plan against published figures, the micro-batch it chooses, and its one-line refusal.

Published figures: LLaMA-Factory's README table "Hardware Requirement" (estimated GB by method and size:
7B: full AMP 120, full pure_bf16 60, LoRA 16, QLoRA 4-bit 6; 70B: 1200, 600, 160, 48), and the QLoRA paper
(Dettmers et al. 2023): a 65B model fine-tuned on one 48 GB GPU (LoRA r 64 on every linear layer, bf16 adapters,
source 384 + target 128 tokens, micro-batch 1, gradient checkpointing).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from radimpress.config import LoraConfig, TrainConfig
from radimpress.config.catalog import MODEL_REGISTRY, Architecture
from radimpress.errors import RadimpressError
from radimpress.modeling.memory import (
    GB,
    ModelDoesNotFitError,
    TrainingSetup,
    architecture_of,
    largest_micro_batch,
    linear_shapes,
    lora_parameters,
    optimizer_name,
    parameter_count,
    plan_memory,
    require_fit,
    training_setup,
    uses_gradient_checkpointing,
)
from radimpress.modeling.train import planned_micro_batch

LLAMA_2_7B = Architecture(4096, 32, 32, 32, 11008, 32000)
LLAMA_2_70B = Architecture(8192, 80, 64, 8, 28672, 32000)
LLAMA_65B = Architecture(8192, 80, 64, 64, 22016, 32000)


@pytest.mark.parametrize("name", ["llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b", "mistral-7b", "mistral-small-22b"])
def test_parameter_counts_from_the_shapes_match_the_published_sizes(name):
    spec = MODEL_REGISTRY[name]
    assert parameter_count(spec.shape) / 1e9 == pytest.approx(spec.billions, abs=0.05)


@pytest.mark.parametrize(
    ("shape", "method", "changes", "published_gb"),
    [
        (LLAMA_2_7B, "full", {}, 120),
        (LLAMA_2_7B, "full", {"full_precision": "pure_bf16"}, 60),
        (LLAMA_2_7B, "lora", {}, 16),
        (LLAMA_2_7B, "qlora", {}, 6),
        (LLAMA_2_70B, "full", {}, 1200),
        (LLAMA_2_70B, "full", {"full_precision": "pure_bf16"}, 600),
        (LLAMA_2_70B, "lora", {}, 160),
        (LLAMA_2_70B, "qlora", {}, 48),
    ],
)
def test_the_plan_is_within_15_percent_of_llama_factorys_table(shape, method, changes, published_gb):
    plan = plan_memory(shape, TrainingSetup(method, sequence_length=1024, micro_batch=1, **changes))
    assert plan.total / GB == pytest.approx(published_gb, rel=0.15)


def test_a_65b_qlora_fits_one_48gb_gpu_as_in_the_qlora_paper():
    every_linear = tuple(linear_shapes(LLAMA_65B))
    setup = TrainingSetup("qlora", sequence_length=512, lora_rank=64, lora_targets=every_linear, adapter_bytes=2)
    plan = plan_memory(LLAMA_65B, setup)
    # 64.7B nf4 weights are 33.4 GB alone: the plan must hold them, and land at the card's 48 GB (+-10%).
    assert plan.weights / GB > 33
    assert plan.total / GB == pytest.approx(48, rel=0.10)
    # In bf16, the same model needs 130 GB of weights: no 48 GB card holds a LoRA of it.
    assert not plan_memory(LLAMA_65B, replace(setup, method="lora")).fits(48 * GB)


def test_lora_parameters_count_both_factors_of_each_target():
    # Mistral 7B, r 16 on q and v: q 16 x (4096 + 4096), v 16 x (4096 + 1024), 32 layers.
    shape = MODEL_REGISTRY["mistral-7b"].shape
    assert lora_parameters(shape, 16, ("q_proj", "v_proj")) == 32 * 16 * (8192 + 5120)
    with pytest.raises(RadimpressError, match=r"\['qkv'\] are not linear layers"):
        lora_parameters(shape, 16, ("qkv",))


def test_checkpointing_and_flash_attention_shrink_the_activations():
    shape = MODEL_REGISTRY["llama-3.1-8b"].shape
    setup = TrainingSetup("lora", sequence_length=2048, micro_batch=4)
    checkpointed = plan_memory(shape, setup).activations
    stored = plan_memory(shape, replace(setup, gradient_checkpointing=False)).activations
    eager = plan_memory(shape, replace(setup, gradient_checkpointing=False, flash_attention=False)).activations
    # 32 layers x 34 s b h against 32 x 2 s b h + 34 s b h: 17x less; eager attention adds 5 a s^2 b a layer.
    assert stored / checkpointed == pytest.approx(32 * 34 / (32 * 2 + 34))
    assert eager - stored == 32 * 5 * 32 * 2048**2 * 4


def test_the_micro_batch_halves_until_the_plan_fits():
    shape = MODEL_REGISTRY["llama-3.1-8b"].shape
    setup = TrainingSetup("lora", sequence_length=4096, micro_batch=64, gradient_checkpointing=True)
    on_h100 = largest_micro_batch(shape, setup, 80 * GB)
    assert on_h100 in (1, 2, 4, 8, 16, 32)
    assert plan_memory(shape, replace(setup, micro_batch=on_h100)).fits(80 * GB)
    assert not plan_memory(shape, replace(setup, micro_batch=on_h100 * 2)).fits(80 * GB)
    assert largest_micro_batch(shape, setup, 141 * GB) > on_h100


def test_what_cannot_fit_is_refused_in_one_line():
    shape = MODEL_REGISTRY["mistral-small-22b"].shape
    with pytest.raises(ModelDoesNotFitError) as refused:
        require_fit("mistral-small-22b", shape, TrainingSetup("full", 1024), 80 * GB, "H100 80GB")
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("mistral-small-22b full at 1024 tokens needs 3") and "of H100 80GB" in message
    assert "use method lora or qlora" in message
    assert require_fit("mistral-small-22b", shape, TrainingSetup("qlora", 1024, micro_batch=8), 80 * GB, "H100") == 8


def test_the_plan_reads_any_model_folders_config(tmp_path):
    config = {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8}
    config |= {"intermediate_size": 14336, "vocab_size": 128256, "tie_word_embeddings": False}
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert architecture_of(tmp_path) == MODEL_REGISTRY["llama-3.1-8b"].shape
    train = TrainConfig(method="lora", max_length=1024, batch_size=16)
    assert planned_micro_batch(tmp_path, LoraConfig(r=16), train, 24 * GB, "L4") < 16
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8}))
    with pytest.raises(RadimpressError, match="has no 'num_hidden_layers'"):
        architecture_of(tmp_path)
    empty = tmp_path / "no-config"
    empty.mkdir()
    with pytest.raises(RadimpressError, match="no config.json in .*no-config: cannot plan"):
        architecture_of(empty)


def test_auto_settings_resolve_by_size_and_device():
    train = TrainConfig(method="qlora")
    assert uses_gradient_checkpointing(train, 8_000_000_000) and not uses_gradient_checkpointing(train, 500_000)
    assert not uses_gradient_checkpointing(TrainConfig(gradient_checkpointing=False), 8_000_000_000)
    assert optimizer_name(train, gpu=True) == "paged_adamw_8bit" and optimizer_name(train, gpu=False) == "adamw"
    assert optimizer_name(TrainConfig(method="lora"), gpu=True) == "adamw"
    setup = training_setup(LoraConfig(r=32), TrainConfig(method="qlora", max_length=512, batch_size=4), 8 * 10**9)
    assert (setup.lora_rank, setup.sequence_length, setup.micro_batch, setup.optimizer) == (
        32,
        512,
        4,
        "paged_adamw_8bit",
    )
