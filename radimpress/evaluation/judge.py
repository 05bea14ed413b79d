"""The factual-correctness judge: an LM fine-tuned on (reference impression, generated impression) -> score.

At scoring time the judge's probabilities over the score words "0".."10" give an expected score,
which is finer-grained and steadier than the single most likely number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import torch

from radimpress.config import JudgeConfig
from radimpress.files import write_json
from radimpress.modeling.train import finetune

SCORES = tuple(range(11))


def judge_prompt(reference: str, generated: str) -> str:
    """What the judge reads."""
    return f"REFERENCE IMPRESSION: {reference}\nGENERATED IMPRESSION: {generated}\nFACTUAL CORRECTNESS (0-10):"


@dataclass(frozen=True)
class JudgeResult:
    adapter_dir: Path
    holdout_mae: float  # judge vs reviewers on reviewed samples the judge never saw
    baseline_mae: float  # always predicting the training mean: the judge must beat this to be worth anything
    n_train: int
    n_holdout: int


def train_judge(base: str | Path, reviewed: pl.DataFrame, cfg: JudgeConfig, out_dir: Path) -> JudgeResult:
    """Fine-tune the judge on most reviewed samples and measure it on the rest."""
    shuffled = reviewed.sample(fraction=1.0, seed=cfg.train.seed, shuffle=True)
    n_holdout = max(1, round(cfg.holdout * shuffled.height))
    holdout, training = shuffled.head(n_holdout), shuffled.tail(shuffled.height - n_holdout)
    prompts = [judge_prompt(r, g) for r, g in zip(training["reference"], training["generated"], strict=True)]
    targets = [f" {round(s)}" for s in training["score"]]
    result = finetune(base, prompts, targets, cfg.lora, cfg.train, out_dir)
    predicted = predict_scores(base, result.adapter_dir, holdout["reference"].to_list(), holdout["generated"].to_list())
    truth = holdout["score"].to_list()
    mean = training["score"].mean()
    judged = JudgeResult(
        adapter_dir=result.adapter_dir,
        holdout_mae=sum(abs(p - t) for p, t in zip(predicted, truth, strict=True)) / len(truth),
        baseline_mae=sum(abs(mean - t) for t in truth) / len(truth),
        n_train=training.height,
        n_holdout=holdout.height,
    )
    write_json({k: v for k, v in vars(judged).items() if k != "adapter_dir"}, out_dir / "judge.json")
    return judged


def predict_scores(base: str | Path, adapter_dir: Path, references: list[str], generated: list[str]) -> list[float]:
    """Expected factual-correctness score of each (reference, generated) pair."""
    from radimpress.modeling.loading import load_finetuned

    model, tokenizer = load_finetuned(base, adapter_dir)
    prompts = [judge_prompt(r, g) for r, g in zip(references, generated, strict=True)]
    return [expected_score(model, tokenizer, prompt) for prompt in prompts]


@torch.inference_mode()
def expected_score(model, tokenizer, prompt: str) -> float:
    """Sum over the 11 score words of score x P(score | prompt), normalised over those words."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    candidates = [tokenizer(f" {s}", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for s in SCORES]
    width = len(prompt_ids) + max(len(c) for c in candidates)
    rows = [prompt_ids + c + [tokenizer.pad_token_id] * (width - len(prompt_ids) - len(c)) for c in candidates]
    mask = [[1] * (len(prompt_ids) + len(c)) + [0] * (width - len(prompt_ids) - len(c)) for c in candidates]
    logits = model(
        input_ids=torch.tensor(rows, device=model.device),
        attention_mask=torch.tensor(mask, device=model.device),
    ).logits
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    totals = torch.stack(
        [
            sum(log_probs[i, len(prompt_ids) + j - 1, token] for j, token in enumerate(c))
            for i, c in enumerate(candidates)
        ]
    )
    weights = torch.softmax(totals, dim=0)
    return float((weights * torch.tensor(SCORES, dtype=weights.dtype, device=weights.device)).sum())
