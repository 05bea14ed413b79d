"""Batched greedy generation: prompts sorted by length, left-padded, KV-cached, stopped at end-of-sequence."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from radimpress.config import GenerateConfig
from radimpress.modeling.prompts import encode_prompts  # the one encoding, shared with training


@dataclass(frozen=True)
class GenerationResult:
    texts: list[str]  # in the order of the prompts
    seconds: float
    new_tokens: int

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0


@torch.inference_mode()
def generate_texts(
    model,
    tokenizer,
    prompts: list[str],
    cfg: GenerateConfig,
    on_progress: Callable[[float], None] | None = None,
) -> GenerationResult:
    """Greedy completions of `prompts`, decoded without the prompt and special tokens.

    Raises:
        ValueError: `cfg.max_new_tokens` is not set (the generate stage sets it from the fine-tune).
    """
    if cfg.max_new_tokens is None:
        raise ValueError("generate.max_new_tokens must be set to generate outside the generate stage")
    encoded = encode_prompts(tokenizer, prompts)
    started = time.perf_counter()
    generated = generate_token_ids(model, tokenizer, encoded, cfg, on_progress)
    return decoded_result(tokenizer, generated, time.perf_counter() - started)


def decoded_result(tokenizer, generated: list[list[int]], seconds: float) -> GenerationResult:
    """Texts without special tokens, with the time and the count of new tokens (end-of-sequence not counted)."""
    texts = [tokenizer.decode(tokens, skip_special_tokens=True).strip() for tokens in generated]
    return GenerationResult(texts, seconds, sum(len(tokens) for tokens in generated))


def generate_token_ids(
    model,
    tokenizer,
    encoded: list[list[int]],
    cfg: GenerateConfig,
    on_progress: Callable[[float], None] | None = None,
    stop_at_eos: bool = True,
) -> list[list[int]]:
    """New token ids for every prompt, in prompt order; batches of similar length (sorted), left-padded."""
    # Longest first: batches hold prompts of similar length, so little compute goes to padding.
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    generated: list[list[int]] = [[] for _ in encoded]
    for start in range(0, len(order), cfg.batch_size):
        batch = order[start : start + cfg.batch_size]
        outputs = _generate_batch(model, tokenizer, [encoded[i] for i in batch], cfg, stop_at_eos)
        for index, tokens in zip(batch, outputs, strict=True):
            generated[index] = tokens
        if on_progress:
            on_progress(100.0 * min(start + cfg.batch_size, len(order)) / len(order))
    return generated


def _generate_batch(
    model, tokenizer, batch_ids: list[list[int]], cfg: GenerateConfig, stop_at_eos: bool = True
) -> list[list[int]]:
    input_ids, attention_mask = left_pad(batch_ids, tokenizer.pad_token_id, model.device)
    eos_id = tokenizer.eos_token_id if stop_at_eos else None
    if cfg.num_beams == 1 and not cfg.do_sample:
        rows = greedy_decode(model, input_ids, attention_mask, cfg.max_new_tokens, eos_id)
    else:
        torch.manual_seed(cfg.seed)
        output = model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            max_new_tokens=cfg.max_new_tokens,
            num_beams=cfg.num_beams,
            do_sample=cfg.do_sample,
            temperature=cfg.temperature if cfg.do_sample else None,
            top_p=cfg.top_p if cfg.do_sample else None,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        rows = output[:, input_ids.shape[1] :].tolist()
    return [until_eos(row, eos_id) for row in rows]


def left_pad(batch_ids: list[list[int]], pad: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids in batch_ids)
    input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in batch_ids], device=device)
    attention_mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch_ids], device=device)
    return input_ids, attention_mask


def forward_cache_keyword(model) -> str:
    """transformers 5.x renames forward's `past_key_values` to `cache`; take whichever this version has."""
    import inspect

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model  # a peft model takes **kwargs
    return "cache" if "cache" in inspect.signature(inner.forward).parameters else "past_key_values"


@torch.inference_mode()
def greedy_decode(
    model, input_ids: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: int, eos_id: int | None
) -> list[list[int]]:
    """Greedy decoding with a KV cache and nothing else per step: one forward, an argmax, an append.

    `model.generate` spends most of a small model's step in logits processors, stopping criteria and cache
    bookkeeping; this loop gives the same tokens for a fraction of the overhead. Rows that reach end-of-sequence
    leave the batch once a quarter of it has finished (impressions differ a lot in length, so most of a batch
    would otherwise keep decoding padding for its longest member); the loop ends when every row is finished.
    """
    from transformers import DynamicCache

    cache = DynamicCache()
    cache_argument = {forward_cache_keyword(model): cache}
    positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    logits = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=positions,
        use_cache=True,
        logits_to_keep=1,  # the prompt's other positions need no vocabulary projection
        **cache_argument,
    ).logits[:, -1]
    # Rows still decoding, as indices into the original batch; finished rows' remaining slots stay end-of-sequence.
    rows = torch.arange(input_ids.shape[0], device=input_ids.device)
    generated = torch.full((len(rows), max_new_tokens), -1 if eos_id is None else eos_id, device=rows.device)
    next_position, mask = positions[:, -1:] + 1, attention_mask
    finished = torch.zeros(len(rows), dtype=torch.bool, device=rows.device)
    steps = 0
    for step in range(max_new_tokens):
        token = logits.argmax(-1)
        generated[rows, step] = token
        steps = step + 1
        if eos_id is not None:
            finished |= token == eos_id
            done = int(finished.sum())
            if done == len(rows) or step + 1 == max_new_tokens:
                break
            if 4 * done >= len(rows):
                keep = (~finished).nonzero().squeeze(-1)
                cache.batch_select_indices(keep)
                rows, token, mask, next_position = rows[keep], token[keep], mask[keep], next_position[keep]
                finished = finished[keep]
        elif step + 1 == max_new_tokens:
            break
        mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=1)
        logits = model(
            input_ids=token[:, None],
            attention_mask=mask,
            position_ids=next_position,
            use_cache=True,
            **cache_argument,
        ).logits[:, -1]
        next_position = next_position + 1
    return generated[:, :steps].tolist()


def until_eos(tokens: list[int], eos_id: int | None) -> list[int]:
    return tokens[: tokens.index(eos_id)] if eos_id is not None and eos_id in tokens else tokens
