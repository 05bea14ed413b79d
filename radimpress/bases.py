"""Base models ready to fine-tune: tiny ones built offline, pretrained ones loaded from disk."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from radimpress.models import build_tiny_model

PAD, EOS = "<pad>", "</s>"


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    """A byte-level BPE tokenizer trained on `texts`, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, eos_token=EOS)


def build_tiny_base(name: str, texts: list[str], vocab_size: int, seed: int, out_dir: Path) -> Path:
    """Train a tokenizer on `texts`, initialise the tiny model of `name`, save both to `out_dir`."""
    tokenizer = train_tokenizer(texts, vocab_size)
    model = build_tiny_model(name, len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id, seed)
    tokenizer.save_pretrained(out_dir)
    model.save_pretrained(out_dir)
    return out_dir


def load_tokenizer(source: str | Path):
    """The tokenizer of a base or adapter folder, padded on the left (generation appends on the right)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    if tokenizer.pad_token is None:  # Llama and Mistral ship without one
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def load_base_model(source: str | Path):
    """The causal LM at a local folder or in the local Hugging Face cache (never downloads)."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(str(source), local_files_only=True, dtype=dtype)
    return model.to("cuda" if torch.cuda.is_available() else "cpu")
