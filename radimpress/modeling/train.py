"""Fine-tuning of a causal LM on (prompt, target) pairs, with the loss on the target tokens only.

Three methods: LoRA (adapters on a frozen base), QLoRA (adapters on a 4-bit nf4 base through bitsandbytes; it
runs on CPU too) and full fine-tuning. Training saves a checkpoint every `checkpoint_steps` optimizer steps into
`out_dir/trainer`; a fine-tune started again on the same folder (a Prefect retry after a crash) resumes from the
last one. A CUDA out-of-memory error halves the micro-batch and doubles gradient accumulation, so the effective
batch (and the step count) stay the same and the checkpoints stay valid.

With a validation split, its loss is measured every `eval_steps` optimizer steps (or every epoch) and recorded
beside the training loss; `early_stopping_patience` stops training when it stops falling and keeps the best weights.

Reads top to bottom: tokenizer -> examples -> (back-off loop) -> model -> trainer -> train -> save.
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from peft import LoraConfig as PeftLoraConfig
from peft import get_peft_model, prepare_model_for_kbit_training
from transformers import (
    EarlyStoppingCallback,
    PrinterCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

from radimpress.config import LoraConfig, TrainConfig
from radimpress.errors import RadimpressError
from radimpress.files import RUN_FACTS, data_dir, read_json, write_json
from radimpress.modeling.loading import load_base_model, load_quantized_model, load_tokenizer, save_weights
from radimpress.modeling.memory import (
    architecture_of,
    optimizer_name,
    parameter_count,
    require_fit,
    training_setup,
    uses_gradient_checkpointing,
)
from radimpress.modeling.packing import collate, pack_dataset, tokenize_dataset
from radimpress.modeling.resources import PeakMemory

log = logging.getLogger(__name__)
T = TypeVar("T")
EXAMPLES_CACHE = Path("cache") / "tokenized"  # under the data directory, shared by every fine-tune


class TrainingOutOfMemory(RadimpressError):
    """Out of GPU memory even at the smallest micro-batch the back-off allows."""


@dataclass(frozen=True)
class TrainResult:
    adapter_dir: Path  # the adapter (lora, qlora) or the whole model (full)
    train_seconds: float
    losses: list[float]  # training loss at every optimizer step, including steps before a resume
    n_examples: int
    resumed_from_step: int = 0
    batch_size: int = 0  # the micro-batch that fit
    gradient_accumulation_steps: int = 1
    peak_memory_gib: float = 0.0
    validation_losses: list[tuple[int, float]] = ()  # (optimizer step, validation loss) at every evaluation
    best_step: int | None = None  # the evaluation whose weights were kept, with early stopping


def finetune(
    base: str | Path,
    prompts: list[str],
    targets: list[str],
    lora: LoraConfig,
    train: TrainConfig,
    out_dir: Path,
    on_progress: Callable[[float], None] | None = None,
    callbacks: list[TrainerCallback] | None = None,
    cache_dir: Path | None = None,
    validation: tuple[list[str], list[str]] | None = None,
    start_from: Path | None = None,
    max_target: int | None = None,
) -> TrainResult:
    """Fine-tune `base` and save the adapter (or model) with its tokenizer to `out_dir/adapter`.

    `start_from` is a LoRA or QLoRA adapter of `base` to go on training (its rank and targets, not `lora`'s).

    `max_target` caps each target's tokens (end-of-sequence included); prompts should already fit the rest
    (`prompts.fit_prompt`), as generation will see them.

    `validation` (prompts, targets) is evaluated for its loss during training, and early stopping reads it.

    Tokenised (and packed) examples are cached in `cache_dir`, by default `<data dir>/cache/tokenized`: outside
    `out_dir`, whose files downstream keys hash.

    Raises:
        TrainingOutOfMemory: CUDA ran out of memory even after `train.oom_backoffs` halvings of the micro-batch.
        RadimpressError: early stopping is asked for without validation examples.
    """
    if train.early_stopping_patience and not (validation and validation[0]):
        raise RadimpressError("train.early_stopping_patience needs a validation split with reports in it")
    tokenizer = load_tokenizer(base)
    cache_dir = cache_dir or data_dir() / EXAMPLES_CACHE
    # Tokenised here first: the ranks of a distributed fine-tune then read the cached files, never write them at once.
    examples = tokenize_dataset(tokenizer, prompts, targets, train.max_length, cache_dir, max_target)
    rows = pack_dataset(examples, train.max_length, cache_dir) if train.packing else examples
    eval_rows = _validation_rows(tokenizer, validation, train, cache_dir, max_target)
    if train.gpus > 1 and world_size() == 1:
        from radimpress.modeling.distributed import launch  # torchrun: the ranks run this function again

        launch(base, prompts, targets, lora, train, out_dir, cache_dir, validation, start_from, max_target)
        return result_from_facts(out_dir)

    def attempt(batch_size: int, accumulation: int) -> TrainResult:
        data = _Data(tokenizer, rows, eval_rows, len(examples), start_from)
        return _train(base, data, lora, train, out_dir, batch_size, accumulation, on_progress, callbacks)

    batch_size, accumulation = max(1, train.batch_size // world_size()), train.gradient_accumulation_steps
    if torch.cuda.is_available():  # plan before loading: refuse in one line what cannot fit, shrink what can
        gpu = torch.cuda.get_device_properties(0)
        batch_size = planned_micro_batch(base, lora, train, gpu.total_memory, gpu.name)
        accumulation = accumulation * train.batch_size // batch_size  # the same examples per optimizer step
    return with_oom_backoff(attempt, batch_size, accumulation, train.oom_backoffs)


def world_size() -> int:
    """Processes of this fine-tune: WORLD_SIZE under torchrun, else 1."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def result_from_facts(out_dir: Path) -> TrainResult:
    """The TrainResult of a fine-tune that ran elsewhere (the ranks of a distributed one), read from its run.json."""
    facts = read_json(out_dir / RUN_FACTS)
    return TrainResult(
        out_dir / "adapter",
        facts["train_seconds"],
        facts["losses"],
        facts["n_examples"],
        facts["resumed_from_step"],
        facts["batch_size"],
        facts["gradient_accumulation_steps"],
        facts["peak_memory_gib"],
        [(point["step"], point["loss"]) for point in facts["validation_losses"]],
        facts["best_step"],
    )


def planned_micro_batch(base: str | Path, lora: LoraConfig, train: TrainConfig, gpu_bytes: float, gpu: str) -> int:
    """The largest micro-batch up to `train.batch_size` whose memory plan fits a GPU of `gpu_bytes`.

    Raises:
        ModelDoesNotFitError: not even micro-batch 1 fits.
    """
    shape = architecture_of(base)
    setup = training_setup(lora, train, parameter_count(shape))
    return require_fit(Path(base).name, shape, setup, gpu_bytes, gpu)


# The names transformers' TrainingArguments(optim=...) knows them by; fused AdamW is its default, kept.
_TRAINER_OPTIMIZERS = {
    "adamw": "adamw_torch_fused",
    "adamw_8bit": "adamw_bnb_8bit",
    "paged_adamw_8bit": "paged_adamw_8bit",
}


def with_oom_backoff(attempt: Callable[[int, int], T], batch_size: int, accumulation: int, max_backoffs: int) -> T:
    """Call `attempt(batch_size, accumulation)`; on CUDA out-of-memory halve the batch, double the accumulation, retry.

    Raises:
        TrainingOutOfMemory: still out of memory after `max_backoffs` halvings, or at a micro-batch of 1.
    """
    for backoff in range(max_backoffs + 1):
        try:
            return attempt(batch_size, accumulation)
        except torch.cuda.OutOfMemoryError as exc:
            _free_memory()
            if backoff == max_backoffs or batch_size == 1:
                raise TrainingOutOfMemory(
                    f"CUDA out of memory at micro-batch {batch_size} (after {backoff} halvings); "
                    "lower train.max_length or train.batch_size, or use method qlora"
                ) from exc
            log.warning("CUDA out of memory at micro-batch %d: retrying at %d", batch_size, batch_size // 2)
            batch_size, accumulation = batch_size // 2, accumulation * 2
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class _Data:
    tokenizer: object
    rows: object  # training rows (examples, or packed rows)
    eval_rows: object | None  # validation rows, the same way
    n_examples: int
    start_from: Path | None = None  # an adapter to go on training


def _validation_rows(tokenizer, validation, train: TrainConfig, cache_dir: Path, max_target: int | None = None):
    """Validation examples tokenised (and packed) the way the training examples are, so the two losses compare."""
    if not validation or not validation[0]:
        return None
    examples = tokenize_dataset(tokenizer, validation[0], validation[1], train.max_length, cache_dir, max_target)
    return pack_dataset(examples, train.max_length, cache_dir) if train.packing else examples


def _free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _train(base, data: _Data, lora, train, out_dir, batch_size, accumulation, on_progress, callbacks) -> TrainResult:
    tokenizer, rows, n_examples = data.tokenizer, data.rows, data.n_examples
    set_seed(train.seed)  # before the adapter exists: LoRA's initial weights come from torch's global RNG
    with PeakMemory() as peak:
        model = trainable_model(base, lora, train.method, data.start_from)
        checkpointing = uses_gradient_checkpointing(train, sum(p.numel() for p in model.parameters()))
        evaluating = data.eval_rows is not None
        trainer = Trainer(
            model=model,
            args=_arguments(
                train,
                out_dir / "trainer",
                batch_size,
                accumulation,
                model.device.type == "cpu",
                evaluating,
                checkpointing,
            ),
            train_dataset=rows,
            eval_dataset=data.eval_rows,
            data_collator=lambda batch: collate(batch, tokenizer.pad_token_id),
            callbacks=[
                *([_ProgressCallback(on_progress)] if on_progress else []),
                *([_early_stopping(train)] if train.early_stopping_patience else []),
                *(callbacks or []),
            ],
        )
        trainer.remove_callback(PrinterCallback)  # the loss curve goes to run.json and MLflow, not to the log
        checkpoint = last_complete_checkpoint(out_dir / "trainer")
        started = time.perf_counter()
        trainer.train(resume_from_checkpoint=checkpoint)
        seconds = time.perf_counter() - started
    if not trainer.is_world_process_zero():  # the other ranks of a distributed fine-tune leave saving to rank 0
        return TrainResult(out_dir / "adapter", seconds, [], n_examples)
    adapter_dir = save_weights(model, tokenizer, train.method, out_dir / "adapter")
    shutil.rmtree(out_dir / "trainer", ignore_errors=True)  # checkpoints only serve a resume; weights are saved
    history = trainer.state.log_history
    losses = [entry["loss"] for entry in history if "loss" in entry]
    validation_losses = [(entry["step"], entry["eval_loss"]) for entry in history if "eval_loss" in entry]
    best_step = _best_step(trainer) if train.early_stopping_patience else None
    resumed = int(Path(checkpoint).name.split("-")[-1]) if checkpoint else 0
    result = TrainResult(
        adapter_dir,
        seconds,
        losses,
        n_examples,
        resumed,
        batch_size,
        accumulation,
        round(peak.gib, 3),
        validation_losses,
        best_step,
    )
    write_json(
        {
            "train_seconds": seconds,
            "losses": losses,
            "validation_losses": [{"step": step, "loss": loss} for step, loss in validation_losses],
            "best_step": best_step,
            "steps": trainer.state.global_step,
            "max_steps": trainer.state.max_steps,  # more than `steps` when early stopping ended training
            "n_examples": n_examples,
            "n_rows": len(rows),
            "resumed_from_step": resumed,
            "batch_size": batch_size,
            "gradient_accumulation_steps": accumulation,
            "peak_memory_gib": result.peak_memory_gib,
            "memory_scope": peak.scope,
        },
        out_dir / RUN_FACTS,
    )
    return result


CHECKPOINT_FILES = ("trainer_state.json", "optimizer.pt", "scheduler.pt")  # the trainer writes the state last


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest checkpoint the trainer finished writing; a kill while saving leaves a newer, partial one behind."""
    candidates = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[-1]), reverse=True)
    for checkpoint in candidates:
        if all((checkpoint / name).is_file() for name in CHECKPOINT_FILES):
            return str(checkpoint)
        shutil.rmtree(checkpoint, ignore_errors=True)  # partial: the resumed run writes it again
    return None


def _early_stopping(train: TrainConfig) -> EarlyStoppingCallback:
    return EarlyStoppingCallback(
        early_stopping_patience=train.early_stopping_patience,
        early_stopping_threshold=train.early_stopping_threshold,
    )


def _best_step(trainer: Trainer) -> int | None:
    checkpoint = trainer.state.best_model_checkpoint
    return int(Path(checkpoint).name.rsplit("-", 1)[-1]) if checkpoint else None


def _evaluation_arguments(train: TrainConfig, evaluating: bool) -> dict:
    """When to measure the validation loss; early stopping also saves a checkpoint at every evaluation (the
    trainer reloads the best one at the end) instead of every `checkpoint_steps`."""
    if not evaluating:
        return {"eval_strategy": "no"}
    when = "steps" if train.eval_steps else "epoch"
    arguments = {
        "eval_strategy": when,
        "eval_steps": train.eval_steps or None,
        "prediction_loss_only": True,  # the loss only: gathering logits would hold vocabulary x tokens floats
        "label_names": ["labels"],  # a PEFT wrapper hides them from the trainer's signature check
    }
    if train.early_stopping_patience:
        arguments |= {
            "save_strategy": when,
            "save_steps": train.eval_steps or 500,
            "load_best_model_at_end": True,
            "metric_for_best_model": "eval_loss",
            "greater_is_better": False,
        }
    return arguments


def _arguments(
    train: TrainConfig,
    folder: Path,
    batch_size: int,
    accumulation: int,
    cpu: bool,
    evaluating: bool = False,
    checkpointing: bool = False,
) -> TrainingArguments:
    bf16 = train.precision == "auto" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    saving = {
        "save_strategy": "steps" if train.checkpoint_steps else "no",
        "save_steps": train.checkpoint_steps or 500,
    }
    return TrainingArguments(
        output_dir=str(folder),
        num_train_epochs=train.epochs,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        gradient_accumulation_steps=accumulation,
        learning_rate=train.learning_rate,
        lr_scheduler_type=train.lr_scheduler,
        warmup_steps=train.warmup_ratio,  # transformers 5: a float below 1 is a share of the steps
        weight_decay=train.weight_decay,
        bf16=bf16,
        logging_steps=1,
        save_total_limit=2,  # the last two: a kill while writing one leaves the other
        optim=_TRAINER_OPTIMIZERS[optimizer_name(train, not cpu)],
        gradient_checkpointing=checkpointing,
        **_distributed_arguments(train, cpu),
        # Non-reentrant checkpointing works with frozen inputs (LoRA) without enable_input_require_grads.
        gradient_checkpointing_kwargs={"use_reentrant": False} if checkpointing else None,
        report_to="none",
        seed=train.seed,
        disable_tqdm=True,
        use_cpu=cpu,
        **(saving | _evaluation_arguments(train, evaluating)),
    )


def _distributed_arguments(train: TrainConfig, cpu: bool) -> dict:
    """DDP over gloo on CPU, NCCL on GPUs; a full fine-tune shards weights, gradients and optimizer state (FSDP)."""
    if world_size() == 1:
        return {}
    if train.method == "full":
        if cpu:
            raise RadimpressError("a full fine-tune over several processes needs GPUs (FSDP): set train.gpus: 1")
        return {"fsdp": "full_shard auto_wrap"}  # wraps each decoder layer (the model's _no_split_modules)
    return {"ddp_backend": "gloo" if cpu else "nccl", "ddp_find_unused_parameters": False}


def trainable_model(base: str | Path, lora: LoraConfig, method: str, start_from: Path | None = None):
    """The model the optimiser sees: the base with LoRA adapters (on a 4-bit base for qlora), or the whole base;
    with `start_from`, that saved adapter, trainable, instead of a fresh one."""
    if method == "full":
        if start_from is not None:
            raise RadimpressError("method full has no adapter to start from: use lora or qlora")
        return load_base_model(base, master_weights=True)
    if method == "qlora":
        model = prepare_model_for_kbit_training(load_quantized_model(base), use_gradient_checkpointing=False)
    else:
        model = load_base_model(base)
    if start_from is not None:
        from peft import PeftModel

        return PeftModel.from_pretrained(model, str(start_from), is_trainable=True)
    return get_peft_model(model, _peft_config(lora))


def _peft_config(lora: LoraConfig) -> PeftLoraConfig:
    return PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        task_type="CAUSAL_LM",
    )


class _ProgressCallback(TrainerCallback):
    """Reports the percentage of optimizer steps done (the Prefect task shows it in the UI)."""

    def __init__(self, report: Callable[[float], None]):
        self.report = report

    def on_step_end(self, args, state, control, **kwargs):
        if state.max_steps:
            self.report(100.0 * state.global_step / state.max_steps)
