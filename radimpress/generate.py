"""Batched greedy generation: prompts sorted by length, left-padded, KV-cached, stopped at end-of-sequence."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import PeftModel

from radimpress.bases import load_base_model, load_tokenizer
from radimpress.config import GenerateConfig


@dataclass(frozen=True)
class GenerationResult:
    texts: list[str]  # in the order of the prompts
    seconds: float
    new_tokens: int

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0


def load_finetuned(base: str | Path, adapter_dir: Path):
    """The fine-tuned model and its tokenizer (the saved copy, else the base's), for inference.

    `adapter_dir` holds a LoRA adapter (loaded onto `base`), a QLoRA adapter (onto `base` in 4-bit nf4, as it was
    trained) or a fully fine-tuned model, as its `radimpress.json` says.
    """
    from radimpress.train import load_quantized_model, saved_method

    method = saved_method(adapter_dir)
    if method == "full":
        model = load_base_model(adapter_dir)
    else:
        frozen = load_quantized_model(base) if method == "qlora" else load_base_model(base)
        model = PeftModel.from_pretrained(frozen, str(adapter_dir))
    has_tokenizer = (Path(adapter_dir) / "tokenizer_config.json").is_file()
    return model.eval(), load_tokenizer(adapter_dir if has_tokenizer else base)


@torch.inference_mode()
def generate_texts(
    model,
    tokenizer,
    prompts: list[str],
    cfg: GenerateConfig,
    on_progress: Callable[[float], None] | None = None,
) -> GenerationResult:
    """Greedy completions of `prompts`, decoded without the prompt and special tokens."""
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    # Longest first: batches hold prompts of similar length, so little compute goes to padding.
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
    texts: list[str] = [""] * len(prompts)
    new_tokens = 0
    started = time.perf_counter()
    for start in range(0, len(order), cfg.batch_size):
        batch = order[start : start + cfg.batch_size]
        outputs = _generate_batch(model, tokenizer, [encoded[i] for i in batch], cfg.max_new_tokens)
        for index, tokens in zip(batch, outputs, strict=True):
            texts[index] = tokenizer.decode(tokens, skip_special_tokens=True).strip()
            new_tokens += len(tokens)
        if on_progress:
            on_progress(100.0 * min(start + cfg.batch_size, len(order)) / len(order))
    return GenerationResult(texts, time.perf_counter() - started, new_tokens)


def _generate_batch(model, tokenizer, batch_ids: list[list[int]], max_new_tokens: int) -> list[list[int]]:
    width = max(len(ids) for ids in batch_ids)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in batch_ids], device=model.device)
    attention_mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch_ids], device=model.device)
    output = model.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=pad,
        eos_token_id=tokenizer.eos_token_id,
    )
    return [_until_eos(row[width:].tolist(), tokenizer.eos_token_id) for row in output]


def _until_eos(tokens: list[int], eos_id: int) -> list[int]:
    return tokens[: tokens.index(eos_id)] if eos_id in tokens else tokens
