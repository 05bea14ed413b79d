"""Training examples: prompt + target token ids with the prompt masked, packed into rows, collated into batches."""

from __future__ import annotations

import torch

IGNORE_INDEX = -100  # label value the loss skips: the prompt tokens


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


def pack_examples(examples: list[dict], max_length: int) -> list[dict]:
    """Whole examples packed first-fit-decreasing into rows of at most `max_length` tokens.

    Positions restart at every example: with no attention mask, transformers reads the restarts as sequence
    boundaries and keeps each example's attention inside itself. Each example's first token is never a label,
    so no example learns to predict its first token from the one before it.
    """
    rows: list[dict] = []
    for example in sorted(examples, key=lambda e: -len(e["input_ids"])):
        size = len(example["input_ids"])
        row = next((r for r in rows if len(r["input_ids"]) + size <= max_length), None)
        if row is None:
            row = {"input_ids": [], "labels": [], "position_ids": []}
            rows.append(row)
        row["input_ids"] += example["input_ids"]
        row["labels"] += [IGNORE_INDEX, *example["labels"][1:]]
        row["position_ids"] += list(range(size))
    return rows


def collate(batch: list[dict], pad_id: int) -> dict:
    """Right-pad a batch for training; padding is masked out of attention and loss.

    Packed rows carry position ids instead of an attention mask; their padding is one more sequence of its own.
    """
    width = max(len(example["input_ids"]) for example in batch)
    if "position_ids" in batch[0]:
        return {
            "input_ids": torch.tensor([e["input_ids"] + [pad_id] * (width - len(e["input_ids"])) for e in batch]),
            "labels": torch.tensor([e["labels"] + [IGNORE_INDEX] * (width - len(e["labels"])) for e in batch]),
            "position_ids": torch.tensor([e["position_ids"] + list(range(width - len(e["input_ids"]))) for e in batch]),
            "use_cache": False,  # with a cache, transformers would not look for the packed sequences' boundaries
        }

    def pad(values: list[int], fill: int) -> list[int]:
        return values + [fill] * (width - len(values))

    return {
        "input_ids": torch.tensor([pad(e["input_ids"], pad_id) for e in batch]),
        "labels": torch.tensor([pad(e["labels"], IGNORE_INDEX) for e in batch]),
        "attention_mask": torch.tensor([pad([1] * len(e["input_ids"]), 0) for e in batch]),
    }
