"""Real LoRA training and generation on tiny Llama and Mistral analogs built offline (a few CPU seconds each)."""

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from radimpress.config import GenerateConfig, LoraConfig, TinyBaseConfig, TrainConfig
from radimpress.config.catalog import MODEL_REGISTRY
from radimpress.modeling import train
from radimpress.modeling.generate import generate_texts, greedy_decode, left_pad, until_eos
from radimpress.modeling.loading import load_base_model, load_finetuned, load_tokenizer
from radimpress.modeling.packing import IGNORE_INDEX, collate, pack_examples, tokenize_pairs
from radimpress.modeling.prompts import INSTRUCTION, build_prompt, build_prompts, build_target
from radimpress.modeling.train import TrainResult, finetune
from radimpress.sim.synthetic import generate_reports
from radimpress.sim.tiny import build_tiny_base

TINY_MODELS = ("tiny-llama", "tiny-mistral")
VOCAB_SIZE = 512
# Random weights (fast). Seed 2: neither random tiny model puts end-of-sequence first, so there is text to compare.
TINY = TinyBaseConfig(vocab_size=VOCAB_SIZE, pretrain_steps=0, seed=2)
REPORTS = generate_reports(40, seed=0)
TRAIN_ROWS, TEST_ROWS = REPORTS.head(16), REPORTS.tail(8)
LORA = LoraConfig(r=4, alpha=8, dropout=0.0, target_modules=["q_proj", "v_proj"])
TRAIN = TrainConfig(epochs=2, learning_rate=0.02, batch_size=8, max_length=128, seed=0)  # 16 pairs -> 4 steps
GENERATE = GenerateConfig(max_new_tokens=12, batch_size=8)


def _texts() -> list[str]:
    return [text for column in ("clinical_information", "findings", "impression") for text in REPORTS[column]]


@dataclass
class Trained:
    base: Path
    result: TrainResult
    model: torch.nn.Module  # the PEFT model the trainer optimised
    before: dict[str, torch.Tensor]  # its state dict right after LoRA was attached
    progress: list[float]


@pytest.fixture(scope="module", params=TINY_MODELS)
def trained(request, tmp_path_factory) -> Trained:
    """Build a tiny base, fine-tune it for 4 steps, and keep the model the trainer actually optimised."""
    folder = tmp_path_factory.mktemp(request.param)
    base = build_tiny_base(request.param, _texts(), TINY, folder / "base")
    seen = {}

    def attach_lora_and_remember(model, config):
        peft_model = real_get_peft_model(model, config)
        seen["model"] = peft_model
        seen["before"] = {k: v.detach().clone() for k, v in peft_model.state_dict().items()}
        return peft_model

    real_get_peft_model = train.get_peft_model
    tokenizer = load_tokenizer(base)
    prompts = build_prompts(TRAIN_ROWS, "findings_clinical", tokenizer)
    targets = [build_target(text) for text in TRAIN_ROWS["impression"]]
    progress: list[float] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train, "get_peft_model", attach_lora_and_remember)
        result = finetune(base, prompts, targets, LORA, TRAIN, folder / "finetune", progress.append)
    return Trained(base, result, seen["model"].eval(), seen["before"], progress)


def _generate(model, tokenizer, batch_size: int = 8) -> list[str]:
    prompts = build_prompts(TEST_ROWS, "findings_clinical", tokenizer)
    cfg = GenerateConfig(max_new_tokens=GENERATE.max_new_tokens, batch_size=batch_size)
    return generate_texts(model, tokenizer, prompts, cfg).texts


@pytest.mark.parametrize("name", TINY_MODELS)
def test_tiny_base_is_saved_with_its_tokenizer(tmp_path, name):
    base = build_tiny_base(name, _texts(), TINY, tmp_path)
    config = json.loads((base / "config.json").read_text())
    shape = MODEL_REGISTRY[name].tiny
    assert config["model_type"] == MODEL_REGISTRY[name].family
    assert (config["hidden_size"], config["num_hidden_layers"]) == (shape.hidden_size, shape.num_hidden_layers)
    assert config["num_key_value_heads"] == shape.num_key_value_heads
    tokenizer = load_tokenizer(base)
    assert len(tokenizer) == VOCAB_SIZE == config["vocab_size"]
    assert (tokenizer.pad_token, tokenizer.eos_token, tokenizer.padding_side) == ("<pad>", "</s>", "left")
    assert tokenizer.decode(tokenizer("No pleural effusion.")["input_ids"]) == "No pleural effusion."
    model = load_base_model(base)
    assert type(model).__name__ == f"{MODEL_REGISTRY[name].family.title()}ForCausalLM"


def test_same_seed_builds_the_same_base(tmp_path):
    first = build_tiny_base("tiny-llama", _texts(), TINY, tmp_path / "a")
    second = build_tiny_base("tiny-llama", _texts(), TINY, tmp_path / "b")
    first_weights, second_weights = load_file(first / "model.safetensors"), load_file(second / "model.safetensors")
    assert first_weights.keys() == second_weights.keys()
    assert all(torch.equal(first_weights[k], second_weights[k]) for k in first_weights)


def test_training_changes_lora_weights_and_leaves_the_base_alone(trained):
    after = trained.model.state_dict()
    lora_keys = [k for k in after if "lora_" in k]
    base_keys = [k for k in after if "lora_" not in k]
    assert lora_keys and base_keys
    assert len([k for k in lora_keys if "lora_B" in k]) == 2 * 2  # q_proj and v_proj in 2 layers
    for key in lora_keys:
        assert not torch.equal(after[key], trained.before[key]), f"{key} did not train"
    for key in base_keys:
        assert torch.equal(after[key], trained.before[key]), f"{key} of the base changed"


def test_training_records_one_finite_loss_per_step(trained):
    losses = trained.result.losses
    assert len(losses) == 4
    assert all(math.isfinite(loss) for loss in losses)
    # A randomly initialised model predicts about uniformly: the first loss is near ln(vocabulary).
    assert losses[0] == pytest.approx(math.log(VOCAB_SIZE), abs=1.0)
    assert trained.result.n_examples == 16
    assert trained.progress == [25.0, 50.0, 75.0, 100.0]
    recorded = json.loads((trained.result.adapter_dir.parent / "run.json").read_text())
    assert recorded["losses"] == losses
    assert recorded["n_examples"] == 16


def test_adapter_folder_holds_the_adapter_and_tokenizer(trained):
    adapter_dir = trained.result.adapter_dir
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= {
        p.name for p in adapter_dir.iterdir()
    }
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (4, 8)
    assert sorted(config["target_modules"]) == ["q_proj", "v_proj"]
    saved = load_file(adapter_dir / "adapter_model.safetensors")
    assert saved and all("lora_" in key for key in saved)  # the adapter only, never the base
    assert all(tensor.abs().sum() > 0 for key, tensor in saved.items() if "lora_B" in key)  # B starts at zero


def test_batched_generation_equals_one_prompt_at_a_time(trained):
    tokenizer = load_tokenizer(trained.result.adapter_dir)
    batched = _generate(trained.model, tokenizer, batch_size=8)
    assert batched == _generate(trained.model, tokenizer, batch_size=1)
    assert batched == _generate(trained.model, tokenizer, batch_size=3)
    assert len(batched) == TEST_ROWS.height
    assert len(set(batched)) > 1  # different prompts, different texts: left padding is not ignored by accident


def test_reloaded_adapter_generates_what_the_trained_model_did(trained):
    tokenizer = load_tokenizer(trained.result.adapter_dir)
    expected = _generate(trained.model, tokenizer)
    model, reloaded_tokenizer = load_finetuned(trained.base, trained.result.adapter_dir)
    assert not model.training
    assert _generate(model, reloaded_tokenizer) == expected
    assert _generate(load_base_model(trained.base), tokenizer) != expected  # the adapter does change the output


def test_generation_reports_tokens_and_stops_at_the_cap(trained):
    tokenizer = load_tokenizer(trained.result.adapter_dir)
    prompts = build_prompts(TEST_ROWS, "findings", tokenizer)
    result = generate_texts(trained.model, tokenizer, prompts, GenerateConfig(max_new_tokens=5, batch_size=4))
    assert 0 < result.new_tokens <= 5 * len(prompts)
    assert result.tokens_per_second > 0
    # Re-tokenising decoded text can merge bytes differently, so the cap is checked on the count generated.
    assert result.new_tokens <= 5 * len(prompts)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return load_tokenizer(build_tiny_base("tiny-llama", _texts(), TINY, tmp_path_factory.mktemp("tok")))


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_tokenize_pairs_masks_the_prompt_and_keeps_target_and_eos(tokenizer):
    prompt, target = "FINDINGS: Small left pleural effusion.\nIMPRESSION:", " Small left pleural effusion."
    [example] = tokenize_pairs(tokenizer, [prompt], [target], max_length=128)
    prompt_ids, target_ids = _ids(tokenizer, prompt), _ids(tokenizer, target) + [tokenizer.eos_token_id]
    assert example["input_ids"] == prompt_ids + target_ids
    assert example["labels"] == [IGNORE_INDEX] * len(prompt_ids) + target_ids


def test_tokenize_pairs_cuts_long_prompts_from_the_left(tokenizer):
    prompt = "FINDINGS: " + " ".join(REPORTS["findings"].head(5)) + "\nIMPRESSION:"
    target = " No acute abnormality."
    [example] = tokenize_pairs(tokenizer, [prompt], [target], max_length=32)
    target_ids = _ids(tokenizer, target) + [tokenizer.eos_token_id]
    kept = 32 - len(target_ids)
    assert len(_ids(tokenizer, prompt)) > 32
    assert len(example["input_ids"]) == 32
    assert example["input_ids"] == _ids(tokenizer, prompt)[-kept:] + target_ids  # the end of the prompt survives
    assert example["labels"] == [IGNORE_INDEX] * kept + target_ids


def test_tokenize_pairs_caps_a_long_target_and_keeps_some_prompt(tokenizer):
    target = " " + " ".join(REPORTS["impression"].head(10))
    [example] = tokenize_pairs(tokenizer, ["FINDINGS: x\nIMPRESSION:"], [target], max_length=24)
    labelled = [label for label in example["labels"] if label != IGNORE_INDEX]
    assert labelled == _ids(tokenizer, target)[:16] + [tokenizer.eos_token_id]
    assert len(example["input_ids"]) <= 24
    assert example["labels"][0] == IGNORE_INDEX


def test_collate_right_pads_and_masks_the_padding():
    batch = collate([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [8], "labels": [8]}], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_prompts_for_the_three_input_configs():
    findings, clinical = "Small left effusion.", "Dyspnoea."
    assert build_prompt(findings, clinical, "findings") == "FINDINGS: Small left effusion.\nIMPRESSION:"
    assert build_prompt(findings, clinical, "findings_clinical") == (
        "CLINICAL INFORMATION: Dyspnoea.\nFINDINGS: Small left effusion.\nIMPRESSION:"
    )
    assert build_prompt(findings, None, "findings_clinical").startswith("CLINICAL INFORMATION: None.\n")
    assert build_prompt(findings, clinical, "instruction") == (
        f"{INSTRUCTION}\nCLINICAL INFORMATION: Dyspnoea.\nFINDINGS: Small left effusion.\nIMPRESSION:"
    )
    assert build_target("  Moderate effusion. ") == " Moderate effusion."


def test_instruction_prompt_uses_the_chat_template_when_there_is_one(tokenizer):
    assert build_prompt("F.", "C.", "instruction", tokenizer).startswith(INSTRUCTION)  # no template: plain text
    tokenizer.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    try:
        prompt = build_prompt("F.", "C.", "instruction", tokenizer)
    finally:
        tokenizer.chat_template = None
    assert prompt == f"<|user|>{INSTRUCTION}\nCLINICAL INFORMATION: C.\nFINDINGS: F.\nIMPRESSION:<|assistant|>"
    assert build_prompt("F.", "C.", "findings", tokenizer) == "FINDINGS: F.\nIMPRESSION:"


def test_pretraining_lowers_the_loss_on_report_text(tmp_path):
    texts = _texts()
    cfg = TinyBaseConfig(vocab_size=VOCAB_SIZE, pretrain_steps=40, pretrain_batch_size=16)
    base = build_tiny_base("tiny-llama", texts, cfg, tmp_path)
    losses = json.loads((base / "pretrain_losses.json").read_text())
    assert len(losses) == 40
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5


def test_beam_search_and_seeded_sampling_are_configurable(trained):
    tokenizer = load_tokenizer(trained.base)
    prompts = build_prompts(TEST_ROWS, "findings_clinical", tokenizer)

    def run(**options):
        cfg = GenerateConfig(max_new_tokens=GENERATE.max_new_tokens, batch_size=8, **options)
        return generate_texts(trained.model, tokenizer, prompts, cfg).texts

    greedy = run()
    assert run(num_beams=1) == greedy
    beams = run(num_beams=3)
    assert len(beams) == len(greedy) and all(isinstance(t, str) for t in beams)
    sampled = run(do_sample=True, temperature=1.5, seed=1)
    assert sampled == run(do_sample=True, temperature=1.5, seed=1)  # seeded: reproducible
    assert sampled != greedy  # a hot temperature leaves the greedy path


def test_rows_that_finish_leave_the_batch_and_the_rest_decode_unchanged(trained):
    """Take a token some rows produce early as end-of-sequence: they drop out, and every row keeps its greedy tokens."""
    tokenizer = load_tokenizer(trained.result.adapter_dir)
    encoded = [_ids(tokenizer, p) for p in build_prompts(TEST_ROWS, "findings", tokenizer)]
    input_ids, mask = left_pad(encoded, tokenizer.pad_token_id, "cpu")
    full = greedy_decode(trained.model, input_ids, mask, 12, eos_id=None)
    stop = max({row[2] for row in full}, key=lambda t: sum(t in row[:4] for row in full))  # early in several rows
    assert any(stop not in row[:4] for row in full), "need rows that keep decoding"
    batch_sizes: list[int] = []
    hook = trained.model.register_forward_pre_hook(
        lambda module, args, kwargs: batch_sizes.append(kwargs["input_ids"].shape[0]), with_kwargs=True
    )
    try:
        stopped = greedy_decode(trained.model, input_ids, mask, 12, eos_id=stop)
    finally:
        hook.remove()
    assert min(batch_sizes) < len(encoded)  # finished rows really left the batch
    assert [until_eos(row, stop) for row in stopped] == [until_eos(row, stop) for row in full]


def _packing_examples(tokenizer) -> list[dict]:
    prompts = build_prompts(TRAIN_ROWS, "findings_clinical", tokenizer)
    return tokenize_pairs(tokenizer, prompts, [build_target(t) for t in TRAIN_ROWS["impression"]], 256)


def test_packing_keeps_every_token_and_every_label_in_fewer_rows(tokenizer):
    examples = _packing_examples(tokenizer)
    rows = pack_examples(examples, 256)
    assert len(rows) < len(examples)
    assert all(len(row["input_ids"]) <= 256 for row in rows)
    assert sorted(t for r in rows for t in r["input_ids"]) == sorted(t for e in examples for t in e["input_ids"])
    trained_on = sum(label != IGNORE_INDEX for e in examples for label in e["labels"])
    assert sum(label != IGNORE_INDEX for r in rows for label in r["labels"]) == trained_on
    assert sum(r["position_ids"].count(0) for r in rows) == len(examples)  # positions restart at every example


def test_a_packed_example_sees_only_itself(trained):
    """Logits in a packed row equal the example's own; with positions that do not restart, they do not."""
    tokenizer = load_tokenizer(trained.result.adapter_dir)
    examples = _packing_examples(tokenizer)
    row = max(pack_examples(examples, 256), key=lambda r: r["position_ids"].count(0))
    batch = collate([row], tokenizer.pad_token_id)
    with torch.no_grad():
        packed = trained.model(**{k: v for k, v in batch.items() if k != "labels"}).logits[0]
        starts = [i for i, p in enumerate(row["position_ids"]) if p == 0] + [len(row["input_ids"])]
        for start, end in zip(starts, starts[1:], strict=False):
            alone = trained.model(input_ids=torch.tensor([row["input_ids"][start:end]])).logits[0]
            torch.testing.assert_close(packed[start:end], alone, atol=1e-4, rtol=1e-4)
        run_on = trained.model(input_ids=batch["input_ids"], use_cache=False).logits[0]
    assert len(starts) > 2  # at least two examples share the row
    assert not torch.allclose(run_on[starts[1] : starts[2]], packed[starts[1] : starts[2]], atol=1e-3)


def test_packed_fine_tune_takes_fewer_steps_on_the_same_examples(tmp_path, trained):
    packed_train = TRAIN.model_copy(update={"packing": True, "batch_size": 2, "max_length": 256})
    unpacked_train = TRAIN.model_copy(update={"batch_size": 2, "max_length": 256})
    prompts = build_prompts(TRAIN_ROWS, "findings_clinical", load_tokenizer(trained.base))
    targets = [build_target(text) for text in TRAIN_ROWS["impression"]]
    packed = finetune(trained.base, prompts, targets, LORA, packed_train, tmp_path / "packed")
    unpacked = finetune(trained.base, prompts, targets, LORA, unpacked_train, tmp_path / "unpacked")
    assert packed.n_examples == unpacked.n_examples == TRAIN_ROWS.height
    assert len(packed.losses) < len(unpacked.losses)
    assert all(math.isfinite(loss) for loss in packed.losses)
    assert json.loads((tmp_path / "packed" / "run.json").read_text())["n_rows"] < TRAIN_ROWS.height
