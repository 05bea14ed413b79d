"""Validation loss during fine-tuning, and early stopping on it, on a tiny base."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from radimpress.config import LoraConfig, TinyBaseConfig, TrainConfig
from radimpress.errors import RadimpressError
from radimpress.files import RUN_FACTS, read_json
from radimpress.modeling.loading import load_finetuned, load_tokenizer
from radimpress.modeling.packing import collate, tokenize_dataset
from radimpress.modeling.prompts import build_prompts, build_target
from radimpress.modeling.train import finetune
from radimpress.sim.synthetic import generate_reports
from radimpress.sim.tiny import build_tiny_base

REPORTS = generate_reports(64, seed=1)
TRAIN_ROWS, VALIDATION_ROWS = REPORTS.head(48), REPORTS.slice(48, 8)
LORA = LoraConfig(r=4, alpha=8, dropout=0.1, target_modules=["q_proj", "v_proj"])


def _train_config(**changes) -> TrainConfig:
    # 48 pairs, micro-batch 8, 4 epochs: 24 optimizer steps, 6 per epoch.
    values = dict(epochs=4, learning_rate=0.01, batch_size=8, max_length=128, seed=0, checkpoint_steps=0)
    return TrainConfig(**(values | changes))


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    texts = [t for column in ("findings", "clinical_information") for t in REPORTS[column]]
    cfg = TinyBaseConfig(vocab_size=400, pretrain_steps=0, seed=2)
    return build_tiny_base("tiny-llama", texts, cfg, tmp_path_factory.mktemp("base") / "tiny-llama")


def _pairs(base: Path, rows) -> tuple[list[str], list[str]]:
    return build_prompts(rows, "findings", load_tokenizer(base)), [build_target(t) for t in rows["impression"]]


def _validation_loss_of(base: Path, adapter_dir: Path, tmp_path: Path) -> float:
    """The saved weights' loss on the 8 validation pairs, in one batch, computed here without the trainer."""
    model, tokenizer = load_finetuned(base, adapter_dir)
    examples = tokenize_dataset(tokenizer, *_pairs(base, VALIDATION_ROWS), 128, tmp_path / "cache")
    with torch.no_grad():
        return model.eval()(**collate(list(examples), tokenizer.pad_token_id)).loss.item()


def test_validation_loss_is_measured_every_epoch_and_is_the_saved_weights_loss(base, tmp_path):
    result = finetune(
        base, *_pairs(base, TRAIN_ROWS), LORA, _train_config(), tmp_path, validation=_pairs(base, VALIDATION_ROWS)
    )
    steps = [step for step, _ in result.validation_losses]
    assert steps == [6, 12, 18, 24] and len(result.losses) == 24
    losses = [loss for _, loss in result.validation_losses]
    assert all(math.isfinite(loss) for loss in losses) and losses[-1] < losses[0]  # it learns what generalises
    assert losses[-1] == pytest.approx(_validation_loss_of(base, result.adapter_dir, tmp_path), rel=1e-4)
    facts = read_json(tmp_path / RUN_FACTS)
    assert [p["step"] for p in facts["validation_losses"]] == steps and facts["best_step"] is None


def test_early_stopping_stops_when_validation_loss_rises_and_keeps_the_best_weights(base, tmp_path):
    # A constant learning rate of 1.0 makes the validation loss turn up within the 24 steps.
    train = _train_config(eval_steps=2, early_stopping_patience=2, learning_rate=1.0, lr_scheduler="constant")
    result = finetune(base, *_pairs(base, TRAIN_ROWS), LORA, train, tmp_path, validation=_pairs(base, VALIDATION_ROWS))
    facts = read_json(tmp_path / RUN_FACTS)
    steps, losses = zip(*result.validation_losses, strict=True)
    assert facts["steps"] == steps[-1] < facts["max_steps"] == 24 and len(result.losses) == steps[-1]
    best = losses.index(min(losses))
    assert best == len(losses) - 3  # the two evaluations after the best were no lower: patience 2
    assert result.best_step == steps[best] == facts["best_step"] != steps[-1]
    # The saved adapter is the best evaluation's, not the last step's.
    assert _validation_loss_of(base, result.adapter_dir, tmp_path) == pytest.approx(losses[best], rel=1e-4)
    assert not (tmp_path / "trainer").exists()


def test_early_stopping_threshold_sets_what_counts_as_lower(base, tmp_path):
    # No fall of 10 nats counts as lower: training stops after the 2 evaluations that follow the first.
    train = _train_config(eval_steps=4, early_stopping_patience=2, early_stopping_threshold=10.0)
    result = finetune(base, *_pairs(base, TRAIN_ROWS), LORA, train, tmp_path, validation=_pairs(base, VALIDATION_ROWS))
    assert [step for step, _ in result.validation_losses] == [4, 8, 12] and len(result.losses) == 12


def test_early_stopping_without_validation_reports_are_refused_in_one_line(base, tmp_path):
    train = _train_config(early_stopping_patience=2)
    with pytest.raises(RadimpressError, match="early_stopping_patience needs a validation split"):
        finetune(base, *_pairs(base, TRAIN_ROWS), LORA, train, tmp_path, validation=([], []))
