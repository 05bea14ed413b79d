"""LoRA fine-tuning of a causal LM on (prompt, target) pairs, with the loss on the target tokens only.

Reads top to bottom: tokenizer -> model -> LoRA -> examples -> trainer -> train -> save.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig as PeftLoraConfig
from peft import get_peft_model
from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments, set_seed

from radimpress.bases import load_base_model, load_tokenizer
from radimpress.config import LoraConfig, TrainConfig
from radimpress.io import write_json

IGNORE_INDEX = -100  # label value the loss skips: the prompt tokens


@dataclass(frozen=True)
class TrainResult:
    adapter_dir: Path
    train_seconds: float
    losses: list[float]  # training loss at every optimizer step
    n_examples: int


def finetune_lora(
    base: str | Path,
    prompts: list[str],
    targets: list[str],
    lora: LoraConfig,
    train: TrainConfig,
    out_dir: Path,
    on_progress: Callable[[float], None] | None = None,
) -> TrainResult:
    """Train a LoRA adapter on `base` and save it (with its tokenizer) to `out_dir/adapter`."""
    tokenizer = load_tokenizer(base)
    set_seed(train.seed)  # before the adapter exists: LoRA's initial weights come from torch's global RNG
    model = get_peft_model(load_base_model(base), _peft_config(lora))
    examples = tokenize_pairs(tokenizer, prompts, targets, train.max_length)
    args = TrainingArguments(
        output_dir=str(out_dir / "trainer"),
        num_train_epochs=train.epochs,
        per_device_train_batch_size=train.batch_size,
        learning_rate=train.learning_rate,
        lr_scheduler_type="linear",
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=train.seed,
        disable_tqdm=True,
        use_cpu=model.device.type == "cpu",
    )
    callbacks = [_ProgressCallback(on_progress)] if on_progress else []
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=examples,
        data_collator=lambda batch: collate(batch, tokenizer.pad_token_id),
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # the loss curve goes to train.json and MLflow, not to the log
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    adapter_dir = out_dir / "adapter"
    model.save_pretrained(adapter_dir)
    tokenizer.save_pretrained(adapter_dir)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    write_json({"train_seconds": seconds, "losses": losses, "n_examples": len(examples)}, out_dir / "train.json")
    return TrainResult(adapter_dir, seconds, losses, len(examples))


def _peft_config(lora: LoraConfig) -> PeftLoraConfig:
    return PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        task_type="CAUSAL_LM",
    )


def tokenize_pairs(tokenizer, prompts: list[str], targets: list[str], max_length: int) -> list[dict]:
    """input_ids = prompt + target + EOS; labels mask the prompt. Long prompts lose their start, not the target."""
    examples = []
    for prompt, target in zip(prompts, targets, strict=True):
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        target_ids = tokenizer(target, add_special_tokens=False)["input_ids"][: max_length - 8]
        target_ids = target_ids + [tokenizer.eos_token_id]
        prompt_ids = prompt_ids[-(max_length - len(target_ids)) :]
        examples.append({"input_ids": prompt_ids + target_ids, "labels": [IGNORE_INDEX] * len(prompt_ids) + target_ids})
    return examples


def collate(batch: list[dict], pad_id: int) -> dict:
    """Right-pad a batch for training; padding is masked out of attention and loss."""
    width = max(len(example["input_ids"]) for example in batch)

    def pad(values: list[int], fill: int) -> list[int]:
        return values + [fill] * (width - len(values))

    return {
        "input_ids": torch.tensor([pad(e["input_ids"], pad_id) for e in batch]),
        "labels": torch.tensor([pad(e["labels"], IGNORE_INDEX) for e in batch]),
        "attention_mask": torch.tensor([pad([1] * len(e["input_ids"]), 0) for e in batch]),
    }


class _ProgressCallback(TrainerCallback):
    """Reports the percentage of optimizer steps done (the Prefect task shows it in the UI)."""

    def __init__(self, report: Callable[[float], None]):
        self.report = report

    def on_step_end(self, args, state, control, **kwargs):
        if state.max_steps:
            self.report(100.0 * state.global_step / state.max_steps)
