"""The factual-correctness judge: an LM fine-tuned on (clinical information, findings, reference impression,
generated impression) -> the reviewers' score.

At scoring time the judge's probabilities over the score words "0".."10" give an expected score, which is
finer-grained and steadier than the single most likely number. How far to trust it comes from grouped k-fold
cross-validation over the reviewed items (`trust.py`): a judge per fold scores the items it never saw.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import torch

from radimpress.config import JudgeConfig
from radimpress.evaluation.trust import grouped_folds, half_up
from radimpress.modeling.train import finetune

SCORES = tuple(range(11))


def judge_prompt(findings: str | None, clinical_information: str | None, reference: str, generated: str) -> str:
    """What the judge reads: the rubric penalises claims the findings do not support, so it reads them too."""
    return (
        f"CLINICAL INFORMATION: {clinical_information or 'none given'}\nFINDINGS: {findings or 'none given'}\n"
        f"REFERENCE IMPRESSION: {reference}\nGENERATED IMPRESSION: {generated}\nFACTUAL CORRECTNESS (0-10):"
    )


def judge_prompts(frame: pl.DataFrame) -> list[str]:
    """The judge's prompt for every row of a frame with findings, clinical_information, reference, generated."""
    clinical = frame["clinical_information"] if "clinical_information" in frame.columns else [None] * frame.height
    rows = zip(frame["findings"], clinical, frame["reference"], frame["generated"], strict=True)
    return [judge_prompt(f, c, r, g or "") for f, c, r, g in rows]


def score_targets(scores: pl.Series) -> list[str]:
    """What the judge learns to write after a prompt: the score in whole points, halves rounded up."""
    return [f" {s}" for s in half_up(scores.to_numpy())]


@dataclass(frozen=True)
class JudgeResult:
    adapter_dir: Path
    """The judge trained on every reviewed item: it scores the variants."""
    out_of_fold: pl.DataFrame
    """Every reviewed item's score from the fold judge that never saw its report: report_id, fold, score, judge."""


def train_judge(
    base: str | Path,
    reviewed: pl.DataFrame,
    cfg: JudgeConfig,
    out_dir: Path,
    start_from: Path | None = None,
) -> JudgeResult:
    """Fine-tune a judge per fold (grouped by report) for out-of-fold scores, then the judge on every item.

    Every judge goes on from `start_from` (the adapter that learnt the perturbation pairs, see `learn_perturbations`)
    when given, each reviewed item repeated `cfg.human_weight` times.
    """
    folds = grouped_folds(reviewed["report_id"].cast(pl.String).to_list(), cfg.folds, cfg.train.seed)
    prompts, targets = judge_prompts(reviewed), score_targets(reviewed["score"])

    def examples(items: np.ndarray) -> tuple[list[str], list[str]]:
        repeated = [i for i in items for _ in range(cfg.human_weight)]
        return [prompts[i] for i in repeated], [targets[i] for i in repeated]

    out_of_fold = np.empty(reviewed.height)
    for fold in range(cfg.folds):
        held = np.flatnonzero(folds == fold)
        fold_dir = out_dir / "folds" / str(fold)
        fold_examples = examples(np.flatnonzero(folds != fold))
        result = finetune(base, *fold_examples, cfg.lora, cfg.train, fold_dir, start_from=start_from)
        model, tokenizer = load_judge(base, result.adapter_dir)
        out_of_fold[held] = expected_scores(model, tokenizer, [prompts[i] for i in held], cfg.score_batch_size)
        shutil.rmtree(fold_dir / "adapter")  # only the fold's scores are kept; its weights would be dead weight
    everything = examples(np.arange(reviewed.height))
    final = finetune(base, *everything, cfg.lora, cfg.train, out_dir, start_from=start_from)
    scored = reviewed.select("report_id", "score").with_columns(
        pl.Series("fold", folds), pl.Series("judge", out_of_fold)
    )
    return JudgeResult(adapter_dir=final.adapter_dir, out_of_fold=scored)


def learn_perturbations(base: str | Path, perturbations: pl.DataFrame, cfg: JudgeConfig, out_dir: Path) -> Path:
    """The adapter that learnt the perturbation pairs (rubric-labelled, from the training split: no reviewed item
    is among them), for every judge to go on from: thousands of pairs learnt once, not once per fold."""
    train = cfg.train.model_copy(update={"epochs": cfg.perturbation_epochs})
    prompts, targets = judge_prompts(perturbations), score_targets(perturbations["score"])
    return finetune(base, prompts, targets, cfg.lora, train, out_dir).adapter_dir


def predict_scores(base: str | Path, adapter_dir: Path, generations: pl.DataFrame, batch_size: int = 16) -> list[float]:
    """Expected factual-correctness score of every generated impression of a frame (see `judge_prompts`)."""
    model, tokenizer = load_judge(base, adapter_dir)
    return expected_scores(model, tokenizer, judge_prompts(generations), batch_size)


def load_judge(base: str | Path, adapter_dir: Path):
    """The fine-tuned judge for scoring, a LoRA adapter merged into its base: one matrix product a layer instead of
    three. A QLoRA adapter stays separate (merging it into 4-bit weights would round it away)."""
    from radimpress.modeling.loading import load_finetuned, saved_method

    model, tokenizer = load_finetuned(base, adapter_dir)
    if saved_method(adapter_dir) == "lora":
        model = model.merge_and_unload()
    return model, tokenizer


def expected_score(model, tokenizer, prompt: str) -> float:
    """`expected_scores` of one prompt."""
    return expected_scores(model, tokenizer, [prompt])[0]


@torch.inference_mode()
def expected_scores(model, tokenizer, prompts: list[str], batch_size: int = 16) -> list[float]:
    """Sum over the 11 score words of score x P(score | prompt), normalised over those words, for every prompt.

    P(score | prompt) is the probability of the score's tokens and then end-of-text. Each batch costs two forward
    passes: the prompts (left-padded, only the last position's logits kept), then every score's tokens for every
    prompt at once on the prompts' cached keys and values. Prompts go in order of length, so padding is small.
    """
    encoded = tokenizer(prompts, add_special_tokens=False)["input_ids"] if prompts else []
    candidates = [tokenizer(f" {s}", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for s in SCORES]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    scores = [0.0] * len(encoded)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = _expected_batch(model, [encoded[i] for i in chunk], candidates, tokenizer.pad_token_id)
        for i, score in zip(chunk, batch, strict=True):
            scores[i] = score
    return scores


def _expected_batch(model, prompt_ids: list[list[int]], candidates: list[list[int]], pad_id: int) -> list[float]:
    from transformers import DynamicCache

    from radimpress.modeling.generate import forward_cache_keyword, left_pad

    ids, mask = left_pad(prompt_ids, pad_id, model.device)
    # Positions count real tokens only, so a padded prompt is computed as it would be alone.
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    cache = DynamicCache()
    logits = model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        use_cache=True,
        logits_to_keep=1,
        **{forward_cache_keyword(model): cache},
    ).logits[:, -1]
    totals = torch.log_softmax(logits.float(), dim=-1)[:, [candidate[0] for candidate in candidates]]
    rest = max(len(candidate) for candidate in candidates) - 1
    if rest:  # (prompts, scores)
        totals = totals + _later_tokens(model, cache, mask, positions[:, -1] + 1, candidates, rest, pad_id)
    weights = torch.softmax(totals, dim=1)
    return (weights @ torch.tensor(SCORES, dtype=weights.dtype, device=model.device)).tolist()


def _later_tokens(model, cache, mask, next_position, candidates, rest: int, pad_id: int) -> torch.Tensor:
    """log P of each score's second and later tokens, every (prompt, score) pair a row on the shared cache."""
    from radimpress.modeling.generate import forward_cache_keyword

    device, n_prompts, n_scores = mask.device, mask.shape[0], len(candidates)
    fed = [c[:-1] + [pad_id] * (rest + 1 - len(c)) for c in candidates]  # what is fed: all tokens but the last
    wanted = [c[1:] + [0] * (rest + 1 - len(c)) for c in candidates]  # what each fed token should predict
    counted = [[1] * (len(c) - 1) + [0] * (rest + 1 - len(c)) for c in candidates]
    cache.batch_repeat_interleave(n_scores)  # row p * n_scores + k: prompt p, score k
    fed_mask = torch.tensor(counted, device=device).repeat(n_prompts, 1)
    attention = torch.cat([mask.repeat_interleave(n_scores, dim=0), fed_mask], dim=1)
    positions = next_position.repeat_interleave(n_scores)[:, None] + torch.arange(rest, device=device)
    logits = model(
        input_ids=torch.tensor(fed, device=device).repeat(n_prompts, 1),
        attention_mask=attention,
        position_ids=positions,
        **{forward_cache_keyword(model): cache},
    ).logits
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    picked = log_probs.gather(2, torch.tensor(wanted, device=device).repeat(n_prompts, 1)[:, :, None])[:, :, 0]
    summed = (picked * fed_mask.to(picked.dtype)).sum(dim=1)
    return summed.view(n_prompts, n_scores)
