"""The factual-correctness judge: an LM fine-tuned on (clinical information, findings, reference impression,
generated impression) -> the score -> the errors (the rubric's six categories, significant / minor).

After the prompt the judge writes the score in whole points and a newline, then its error slots: significant/minor
counts of each category in the rubric's order (`1/0 0/1 0/0 0/0 0/0 0/0`: a significant false finding and a minor
missing one), or `nothing usable`. A score comes from it two ways:
- **direct**: its probabilities over the score words "0".."10" give an expected score, finer-grained and steadier
  than the single most likely number;
- **from errors**: the rubric's penalties applied to the counts it expects in each slot (its probabilities over the
  digits where it wrote one), so a slot it is unsure of costs part of a penalty.
`judge.score_from` says which is the judge's score; the trust table reports both. How far to trust it comes from
grouped k-fold cross-validation over the reviewed items (`trust.py`): a judge per fold scores the items it never saw.

Items whose reviewers gave a score but no error categories teach the score alone.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import torch

from radimpress.config import GenerateConfig, JudgeConfig
from radimpress.evaluation.trust import grouped_folds, half_up
from radimpress.modeling.train import finetune
from radimpress.review.rubric import (
    DEFAULT_WEIGHTS,
    ERROR_CATEGORIES,
    ErrorCounts,
    RubricWeights,
    score_from_errors,
    significant_column,
)

SCORES = tuple(range(11))
SCORE_END = "\n"
"""What follows the score: its own token in the byte-level and sentencepiece tokenizers of the registry's models, so
the score words' probabilities are comparable whatever comes after."""
ERRORS_CUE = "ERRORS:"
"""Short: every cue token is one less for the prompt within `train.max_length` (the order of the slots is the
rubric's, `ERROR_CATEGORIES`, and `describe_errors` names them for people)."""
NO_ERRORS, NOTHING_USABLE = "none", "nothing usable"
ERROR_SLOT_TOKENS = 32
"""Most tokens the judge may spend on its error slots (24 in a 1,024-word vocabulary)."""
_SLOT = re.compile(r"^(\d{1,2})/(\d{1,2})$")


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


def error_slots(counts: ErrorCounts, usable: bool = True) -> str:
    """What the judge writes after the score and `ERRORS_CUE`: `significant/minor` for each category in the
    rubric's order (`0/0 1/0 0/0 0/0 0/0 0/0`), or `nothing usable`. Slots of digits, not category names: a tiny
    model's vocabulary has no word for the categories, and category names cost it ten tokens each."""
    if not usable:
        return NOTHING_USABLE
    return " ".join("{}/{}".format(*counts.get(c, (0, 0))) for c in ERROR_CATEGORIES)


def describe_errors(counts: ErrorCounts, usable: bool = True) -> str:
    """The errors for people: `false_finding 1/0; missing_finding 0/1` (significant/minor), `none` or
    `nothing usable`."""
    if not usable:
        return NOTHING_USABLE
    named = [f"{c} {counts[c][0]}/{counts[c][1]}" for c in ERROR_CATEGORIES if c in counts and sum(counts[c])]
    return "; ".join(named) or NO_ERRORS


def parse_error_slots(text: str) -> tuple[ErrorCounts, bool] | None:
    """(counts, usable) from the first line the judge wrote; None for anything else (fewer or more slots, a slot
    that is not n/m, free text): the caller falls back to the direct score and counts it."""
    line = text.split("\n", 1)[0].strip()
    if line == NOTHING_USABLE:
        return {}, False
    slots = line.split()
    if len(slots) != len(ERROR_CATEGORIES):
        return None
    counts: ErrorCounts = {}
    for category, slot in zip(ERROR_CATEGORIES, slots, strict=True):
        match = _SLOT.match(slot)
        if match is None:
            return None
        if match[1] != "0" or match[2] != "0":
            counts[category] = (int(match[1]), int(match[2]))
    return counts, True


def labelled_errors(frame: pl.DataFrame) -> list[ErrorCounts | None]:
    """Every row's errors by category, from its category columns and their `significant_column`s; None for a row
    (or a frame) without them: its reviewers gave only a score."""
    wanted = [*ERROR_CATEGORIES, *(significant_column(c) for c in ERROR_CATEGORIES)]
    if not set(wanted) <= set(frame.columns):
        return [None] * frame.height
    rows = frame.select(wanted).iter_rows(named=True)
    return [
        None
        if any(row[c] is None for c in wanted)
        else {c: (row[significant_column(c)], row[c] - row[significant_column(c)]) for c in ERROR_CATEGORIES if row[c]}
        for row in rows
    ]


def judge_examples(frame: pl.DataFrame) -> tuple[list[str], list[str]]:
    """Prompts and targets: the score in whole points (halves rounded up), then the error slots where the row has
    error categories (`labelled_errors`)."""
    usable = frame["usable"].to_list() if "usable" in frame.columns else [True] * frame.height
    targets = []
    for errors, is_usable, score in zip(
        labelled_errors(frame), usable, half_up(frame["score"].to_numpy()), strict=True
    ):
        slots = "" if errors is None else f"{ERRORS_CUE} {error_slots(errors, is_usable is not False)}"
        targets.append(f" {score}{SCORE_END}{slots}")
    return judge_prompts(frame), targets


@dataclass(frozen=True)
class Judgement:
    """What the judge says of one generated impression."""

    errors: str
    """The errors it named (`describe_errors`), or its first line as written when that could not be read."""
    readable: bool
    """Whether `parse_error_slots` could read its error slots; when not, `from_errors` is the direct score."""
    direct: float
    """Its expected score word."""
    from_errors: float
    """The rubric's score of the counts it expects in its error slots."""

    def score(self, score_from: str) -> float:
        return self.from_errors if score_from == "errors" else self.direct


@dataclass(frozen=True)
class JudgeResult:
    adapter_dir: Path
    """The judge trained on every reviewed item: it scores the variants."""
    out_of_fold: pl.DataFrame
    """Every reviewed item's judgement from the fold judge that never saw its report: report_id, score, fold,
    judge (its score by `judge.score_from`), judge_direct, judge_from_errors, errors and errors_readable."""


def judge_folds(reviewed: pl.DataFrame, cfg: JudgeConfig) -> np.ndarray:
    """Each reviewed item's fold, grouped by report: a report's items are all in one fold."""
    return grouped_folds(reviewed["report_id"].cast(pl.String).to_list(), cfg.folds, cfg.train.seed)


def train_fold_judge(
    base: str | Path,
    reviewed: pl.DataFrame,
    cfg: JudgeConfig,
    fold: int,
    out_dir: Path,
    start_from: Path | None = None,
    weights: RubricWeights = DEFAULT_WEIGHTS,
) -> list[Judgement]:
    """Fold `fold`'s items (in row order) judged by a judge fine-tuned on every other fold: judgements of items it
    never saw. Its weights are not kept (they would be dead weight)."""
    folds = judge_folds(reviewed, cfg)
    result = finetune(
        base, *_weighted_examples(reviewed, folds != fold, cfg), cfg.lora, cfg.train, out_dir, start_from=start_from
    )
    model, tokenizer = load_judge(base, result.adapter_dir)
    held = reviewed.filter(pl.Series(folds == fold))
    said = judge_items(model, tokenizer, judge_prompts(held), cfg.score_batch_size, weights)
    shutil.rmtree(result.adapter_dir)
    return said


def train_final_judge(
    base: str | Path, reviewed: pl.DataFrame, cfg: JudgeConfig, out_dir: Path, start_from: Path | None = None
) -> Path:
    """The adapter of the judge fine-tuned on every reviewed item: the one that scores the variants."""
    everything = _weighted_examples(reviewed, np.ones(reviewed.height, dtype=bool), cfg)
    return finetune(base, *everything, cfg.lora, cfg.train, out_dir, start_from=start_from).adapter_dir


def out_of_fold(reviewed: pl.DataFrame, cfg: JudgeConfig, by_fold: list[list[Judgement]]) -> pl.DataFrame:
    """report_id, score, fold and `JUDGEMENT_COLUMNS` for every reviewed item, from `train_fold_judge`'s judgements
    of each fold in fold order."""
    folds = judge_folds(reviewed, cfg)
    judgements: list[Judgement | None] = [None] * reviewed.height
    for fold, said in enumerate(by_fold):
        for i, judgement in zip(np.flatnonzero(folds == fold), said, strict=True):
            judgements[i] = judgement
    return reviewed.select("report_id", "score").with_columns(
        pl.Series("fold", folds), *judgement_columns(judgements, cfg.score_from)
    )


def train_judge(
    base: str | Path,
    reviewed: pl.DataFrame,
    cfg: JudgeConfig,
    out_dir: Path,
    start_from: Path | None = None,
    weights: RubricWeights = DEFAULT_WEIGHTS,
) -> JudgeResult:
    """Fine-tune a judge per fold (grouped by report) for out-of-fold judgements, then the judge on every item, one
    after another (the flow runs them as stages side by side).

    Every judge goes on from `start_from` (the adapter that learnt the perturbation pairs, see `learn_perturbations`)
    when given, each reviewed item repeated `cfg.human_weight` times.
    """
    by_fold = [
        train_fold_judge(base, reviewed, cfg, fold, out_dir / "folds" / str(fold), start_from, weights)
        for fold in range(cfg.folds)
    ]
    adapter_dir = train_final_judge(base, reviewed, cfg, out_dir, start_from)
    return JudgeResult(adapter_dir=adapter_dir, out_of_fold=out_of_fold(reviewed, cfg, by_fold))


def _weighted_examples(reviewed: pl.DataFrame, chosen: np.ndarray, cfg: JudgeConfig) -> tuple[list[str], list[str]]:
    """The chosen items' prompts and targets, each item `cfg.human_weight` times (`repeated_examples`)."""
    prompts, targets = judge_examples(reviewed)
    scores_only = [target.split(ERRORS_CUE, 1)[0] for target in targets]
    return repeated_examples(prompts, targets, scores_only, np.flatnonzero(chosen), cfg.human_weight)


def repeated_examples(
    prompts: list[str], targets: list[str], scores_only: list[str], items: np.ndarray, weight: int
) -> tuple[list[str], list[str]]:
    """Each item `weight` times: its last repetition with its error slots, the others with its score alone.

    A target with slots has ten times the score's tokens, so on a hundred items the slots would take most of the
    loss from the score (measured on the smoke profile: Kendall tau-b 0.20 with slots every time, 0.26 like this);
    one repetition is enough to keep the slots the perturbations taught."""
    repeated = [(i, r == weight - 1) for i in items for r in range(weight)]
    return [prompts[i] for i, _ in repeated], [targets[i] if last else scores_only[i] for i, last in repeated]


JUDGEMENT_COLUMNS = ("judge", "judge_direct", "judge_from_errors", "errors", "errors_readable")


def judgement_columns(judgements: list[Judgement], score_from: str) -> list[pl.Series]:
    """`JUDGEMENT_COLUMNS`: judge (the score `score_from` names), both scores, the errors and whether they were
    readable."""
    return [
        pl.Series("judge", [j.score(score_from) for j in judgements], dtype=pl.Float64),
        pl.Series("judge_direct", [j.direct for j in judgements], dtype=pl.Float64),
        pl.Series("judge_from_errors", [j.from_errors for j in judgements], dtype=pl.Float64),
        pl.Series("errors", [j.errors for j in judgements], dtype=pl.String),
        pl.Series("errors_readable", [j.readable for j in judgements], dtype=pl.Boolean),
    ]


def judgement_frame(judgements: list[Judgement]) -> pl.DataFrame:
    """Judgements as a frame, to keep between stages (`judgements_from_frame` reads it back)."""
    schema = {"errors": pl.String, "readable": pl.Boolean, "direct": pl.Float64, "from_errors": pl.Float64}
    rows = [(j.errors, j.readable, j.direct, j.from_errors) for j in judgements]
    return pl.DataFrame(rows, schema=schema, orient="row")


def judgements_from_frame(frame: pl.DataFrame) -> list[Judgement]:
    return [Judgement(**row) for row in frame.iter_rows(named=True)]


def learn_perturbations(base: str | Path, perturbations: pl.DataFrame, cfg: JudgeConfig, out_dir: Path) -> Path:
    """The adapter that learnt the perturbation pairs (rubric-labelled, from the training split: no reviewed item
    is among them), for every judge to go on from: thousands of pairs learnt once, not once per fold."""
    train = cfg.train.model_copy(update={"epochs": cfg.perturbation_epochs})
    return finetune(base, *judge_examples(perturbations), cfg.lora, train, out_dir).adapter_dir


def judge_generations(
    base: str | Path,
    adapter_dir: Path,
    generations: pl.DataFrame,
    batch_size: int = 16,
    weights: RubricWeights = DEFAULT_WEIGHTS,
) -> list[Judgement]:
    """The judge's judgement of every generated impression of a frame (see `judge_prompts`)."""
    model, tokenizer = load_judge(base, adapter_dir)
    return judge_items(model, tokenizer, judge_prompts(generations), batch_size, weights)


@torch.inference_mode()
def judge_items(
    model, tokenizer, prompts: list[str], batch_size: int = 16, weights: RubricWeights = DEFAULT_WEIGHTS
) -> list[Judgement]:
    """Each prompt's expected score (`expected_scores`); then, after its most likely score, the error slots it writes
    (greedy, in batches, with a KV cache) and the counts it expects in them (`expected_counts`), which the rubric
    turns into the score from errors. Slots it cannot read (`parse_error_slots`) are kept as written, flagged, and
    scored directly."""
    from radimpress.modeling.generate import generate_token_ids
    from radimpress.modeling.prompts import encode_prompts

    direct = expected_scores(model, tokenizer, prompts, batch_size)
    # Prompt and target ids side by side, as training joined them (never re-tokenised together).
    heads = [f" {score}{SCORE_END}{ERRORS_CUE}" for score in half_up(np.asarray(direct))]
    head_ids = tokenizer(heads, add_special_tokens=False)["input_ids"] if heads else []
    encoded = [p + h for p, h in zip(encode_prompts(tokenizer, prompts), head_ids, strict=True)]
    cfg = GenerateConfig(max_new_tokens=ERROR_SLOT_TOKENS, batch_size=batch_size)
    written = generate_token_ids(model, tokenizer, encoded, cfg)
    expected = expected_counts(model, tokenizer, encoded, written, batch_size)
    judgements = []
    for ids, score, counts in zip(written, direct, expected, strict=True):
        line = tokenizer.decode(ids, skip_special_tokens=True).split("\n", 1)[0].strip()
        parsed = parse_error_slots(line)
        if parsed is None:
            judgements.append(Judgement(line, False, score, score))
            continue
        from_errors = 0.0 if not parsed[1] else score_from_errors(counts or parsed[0], weights)
        judgements.append(Judgement(describe_errors(*parsed), True, score, from_errors))
    return judgements


@torch.inference_mode()
def expected_counts(
    model, tokenizer, encoded: list[list[int]], written: list[list[int]], batch_size: int = 16
) -> list[dict[str, tuple[float, float]] | None]:
    """Per prompt, each category's expected (significant, minor) count: at every digit the judge wrote in its
    slots, the mean digit under its probabilities over the ten digits. None where the slots are not twelve single
    digits (a count of 10 or more, or no slots), or the tokenizer has no single token per digit: then the counts
    as written stand."""
    digits = [tokenizer(str(d), add_special_tokens=False)["input_ids"] for d in range(10)]
    if any(len(ids) != 1 for ids in digits):
        return [None] * len(encoded)
    digit_ids = [ids[0] for ids in digits]
    wanted = 2 * len(ERROR_CATEGORIES)
    results: list[dict[str, tuple[float, float]] | None] = [None] * len(encoded)
    rows = [i for i, ids in enumerate(written) if sum(t in digit_ids for t in ids) == wanted]
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        means = _digit_means(model, [encoded[i] for i in chunk], [written[i] for i in chunk], digit_ids, tokenizer)
        for i, values in zip(chunk, means, strict=True):
            pairs = zip(values[0::2], values[1::2], strict=True)
            results[i] = dict(zip(ERROR_CATEGORIES, pairs, strict=True))
    return results


def _digit_means(model, prompts: list[list[int]], written: list[list[int]], digit_ids: list[int], tokenizer):
    """One teacher-forced pass over prompt + written slots: the expected digit at each written digit."""
    from radimpress.modeling.generate import left_pad

    ids, mask = left_pad([p + w for p, w in zip(prompts, written, strict=True)], tokenizer.pad_token_id, model.device)
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    keep = max(len(w) for w in written) + 1  # the logits that predict every written token
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep).logits
    probs = torch.softmax(logits.float()[:, :, digit_ids], dim=-1) @ torch.arange(10.0, device=logits.device)
    means = []
    for row, tokens in enumerate(written):
        # written token t of a row with g tokens is predicted by kept logit keep - g + t - 1 (rows end together)
        first = keep - len(tokens) - 1
        means.append([float(probs[row, first + t]) for t, token in enumerate(tokens) if token in digit_ids])
    return means


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

    P(score | prompt) is the probability of the score's tokens and then `SCORE_END`. Each batch costs two forward
    passes: the prompts (left-padded, only the last position's logits kept), then every score's tokens for every
    prompt at once on the prompts' cached keys and values. Prompts go in order of length, so padding is small.
    """
    from radimpress.modeling.prompts import encode_prompts

    encoded = encode_prompts(tokenizer, prompts)  # as training encoded them: a beginning-of-sequence token if any
    candidates = [tokenizer(f" {s}{SCORE_END}", add_special_tokens=False)["input_ids"] for s in SCORES]
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
