"""Tiny offline bases: a tokenizer learnt from reports and a 2-layer model pretrained on them (demo and CPU runs)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import polars as pl

from radimpress.config import TinyBaseConfig
from radimpress.config.catalog import MODEL_REGISTRY
from radimpress.modeling.packing import collate, pack_examples
from radimpress.sim.synthetic import generate_reports

PAD, EOS = "<pad>", "</s>"


def build_tiny_model(name: str, vocab_size: int, pad_token_id: int, eos_token_id: int, seed: int):
    """A randomly initialised tiny causal LM of the family of `name`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

    spec = MODEL_REGISTRY[name]
    config_class, model_class = {
        "llama": (LlamaConfig, LlamaForCausalLM),
        "mistral": (MistralConfig, MistralForCausalLM),
    }[spec.family]
    config = config_class(
        vocab_size=vocab_size,
        max_position_embeddings=1024,
        pad_token_id=pad_token_id,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
        tie_word_embeddings=False,  # tied weights come back untied from save_pretrained on some versions
        **vars(spec.tiny),
    )
    torch.manual_seed(seed)
    return model_class(config)


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


def build_tiny_base(
    name: str,
    documents: list[str],
    cfg: TinyBaseConfig,
    out_dir: Path,
    on_progress: Callable[[float], None] | None = None,
) -> Path:
    """Train a tokenizer on `documents`, pretrain the tiny model of `name` on them, save both to `out_dir`."""
    tokenizer = train_tokenizer(documents, cfg.vocab_size)
    model = build_tiny_model(name, len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id, cfg.seed)
    losses = pretrain(model, tokenizer, documents, cfg, on_progress=on_progress)
    tokenizer.save_pretrained(out_dir)
    model.save_pretrained(out_dir)
    (out_dir / "pretrain_losses.json").write_text(json.dumps(losses))
    return out_dir


def pretrain(
    model,
    tokenizer,
    documents: list[str],
    cfg: TinyBaseConfig,
    max_tokens: int = 128,
    on_progress: Callable[[float], None] | None = None,
) -> list[float]:
    """Causal-LM pretraining on random batches of documents; returns the loss of every step.

    A batch's documents are packed into rows (positions restart at each one, so none attends to another, and no
    first token is predicted from the document before it): the loss is that of the padded batch, but a report
    section is ~28 tokens against a longest of 129, so the padded batch was three quarters padding."""
    import torch

    encoded = [
        tokenizer(d, add_special_tokens=False)["input_ids"][:max_tokens] + [tokenizer.eos_token_id] for d in documents
    ]
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.pretrain_learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / max(cfg.pretrain_steps, 1))
    generator = torch.Generator().manual_seed(cfg.seed)
    losses = []
    model.train()
    for step in range(cfg.pretrain_steps):
        picks = torch.randint(len(encoded), (cfg.pretrain_batch_size,), generator=generator).tolist()
        documents = [{"input_ids": encoded[i], "labels": encoded[i]} for i in picks]
        batch = collate(pack_examples(documents, 2 * (max_tokens + 1)), tokenizer.pad_token_id)
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        if on_progress:
            on_progress(100.0 * (step + 1) / cfg.pretrain_steps)
    return losses


def pretraining_corpus(train: pl.DataFrame, cfg: TinyBaseConfig) -> list[str]:
    """Report sections as separate documents: synthetic reports of their own seed, plus the training split's
    findings and clinical information. The training impressions stay out: they are what fine-tuning teaches."""
    synthetic = generate_reports(cfg.pretrain_reports, seed=10_000 + cfg.seed) if cfg.pretrain_reports else None
    sections = [] if synthetic is None else [synthetic[c] for c in ("clinical_information", "findings", "impression")]
    sections += [train[c] for c in ("clinical_information", "findings") if c in train.columns]
    return [text for column in sections for text in column.drop_nulls().to_list() if text.strip()]
