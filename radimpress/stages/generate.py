"""Generate: one variant's impressions for a split (validation for every variant, test for the chosen ones)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from radimpress.config import GenerateConfig
from radimpress.config.variants import VariantSpec
from radimpress.files import RUN_FACTS, read_frame, read_json, write_frame, write_json
from radimpress.modeling.generate import GenerationResult, generate_texts
from radimpress.modeling.loading import finetuned_tokenizer, load_finetuned
from radimpress.modeling.prompts import build_prompts
from radimpress.modeling.resources import PeakMemory
from radimpress.stages.store import stage


@stage("generate", exclude=("on_progress",))
def generate_stage(
    variant: VariantSpec,
    base: Path,
    finetune_dir: Path,
    split_path: Path,
    cfg: GenerateConfig,
    on_progress: Callable[[float], None] | None = None,
    *,
    out: Path,
) -> Path:
    """generations.parquet (the split with `generated`, and `split` naming it) and run.json (time, tokens/s, memory)."""
    test = read_frame(split_path)
    with PeakMemory() as peak:
        result = _generate(variant, base, finetune_dir, test, cfg, on_progress)
    generations = test.with_columns(
        pl.lit(variant.variant_id).alias("variant_id"),
        pl.lit(split_path.stem).alias("split"),
        pl.col("impression").alias("reference"),
        pl.Series("generated", result.texts, dtype=pl.String),
    )
    write_frame(generations, out / "generations.parquet")
    timing = {
        "seconds": result.seconds,
        "new_tokens": result.new_tokens,
        "tokens_per_second": result.tokens_per_second,
        "peak_memory_gib": round(peak.gib, 3),
        "memory_scope": peak.scope,
    }
    write_json(timing | {"reports": test.height}, out / RUN_FACTS)
    return out


def _generate(variant, base, finetune_dir, test, cfg, on_progress) -> GenerationResult:
    adapter_dir, trained = finetune_dir / "adapter", read_json(finetune_dir / "variant.json")
    # The prompts the fine-tune learnt from, fitted to the same budget; as many new tokens as its targets had room.
    cfg = cfg.model_copy(update={"max_new_tokens": cfg.max_new_tokens or trained["target_room"] - 1})
    if cfg.backend == "vllm":
        from radimpress.modeling.vllm import generate_texts_with_vllm  # CUDA machines only

        tokenizer = finetuned_tokenizer(base, adapter_dir)
        prompts = build_prompts(test, variant.input_config, tokenizer, trained["prompt_budget"])
        return generate_texts_with_vllm(base, adapter_dir, tokenizer, prompts, cfg)
    model, tokenizer = load_finetuned(base, adapter_dir)
    prompts = build_prompts(test, variant.input_config, tokenizer, trained["prompt_budget"])
    return generate_texts(model, tokenizer, prompts, cfg, on_progress)
