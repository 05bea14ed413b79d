"""Base models: the study's five by name, and tiny offline analogs for CPU runs.

A tiny analog keeps its family's architecture class and its ratio of attention heads to KV heads
(Llama 3: 4 query heads per KV head; Mistral: 4 as well), so the same code paths run on CPU as on a GPU.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from radimpress.errors import ModelUnavailableError


@dataclass(frozen=True)
class TinyShape:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int


@dataclass(frozen=True)
class BaseModelSpec:
    name: str
    family: str  # "llama" or "mistral": picks the config and model class
    hub_id: str | None = None  # None: built offline from `tiny`
    tiny: TinyShape | None = None


MODEL_REGISTRY: dict[str, BaseModelSpec] = {
    spec.name: spec
    for spec in (
        # Offline analogs of the study's five, in the same order of size. 0.6M parameters (tiny-llama) pretrain in
        # ~20 s on 2 CPU cores, enough to write readable synthetic impressions; 4-bit CPU kernels want dims % 64 == 0.
        BaseModelSpec("tiny-llama", "llama", tiny=TinyShape(128, 2, 4, 1, 384)),  # ~ Llama 3.2 1B
        BaseModelSpec("tiny-llama-m", "llama", tiny=TinyShape(192, 3, 8, 2, 576)),  # ~ Llama 3.2 3B
        BaseModelSpec("tiny-llama-l", "llama", tiny=TinyShape(256, 4, 8, 2, 768)),  # ~ Llama 3.1 8B
        BaseModelSpec("tiny-mistral", "mistral", tiny=TinyShape(128, 2, 4, 1, 448)),  # ~ Mistral 7B
        BaseModelSpec("tiny-mistral-l", "mistral", tiny=TinyShape(256, 4, 8, 2, 896)),  # ~ Mistral Small 22B
        BaseModelSpec("llama-3.2-1b", "llama", hub_id="meta-llama/Llama-3.2-1B"),
        BaseModelSpec("llama-3.2-3b", "llama", hub_id="meta-llama/Llama-3.2-3B"),
        BaseModelSpec("llama-3.1-8b", "llama", hub_id="meta-llama/Llama-3.1-8B"),
        BaseModelSpec("mistral-7b", "mistral", hub_id="mistralai/Mistral-7B-v0.3"),
        BaseModelSpec("mistral-small-22b", "mistral", hub_id="mistralai/Mistral-Small-Instruct-2409"),
    )
}


def is_tiny(name: str) -> bool:
    """True for the offline analogs that radimpress builds itself."""
    return MODEL_REGISTRY[name].tiny is not None


def resolve_pretrained(name: str, local_paths: dict[str, str]) -> str:
    """Where a pretrained model's weights are: a local folder, or a Hugging Face id already in the cache.

    Raises:
        ModelUnavailableError: the weights are not on this machine (radimpress never downloads at run time).
    """
    spec = MODEL_REGISTRY[name]
    if name in local_paths:
        path = Path(local_paths[name])
        if not (path / "config.json").is_file():
            raise ModelUnavailableError(f"model '{name}': no config.json in model_paths folder {path}")
        return str(path)
    snapshot = _hf_cache_snapshot(spec.hub_id)
    if snapshot:
        return snapshot  # the snapshot folder names the revision, so a newer download gets new cache keys
    raise ModelUnavailableError(
        f"model '{name}' ({spec.hub_id}) is not on this machine: download it where the Hub is reachable "
        f"(`hf download {spec.hub_id}`, gated models need HF_TOKEN) and copy it into HF_HOME, "
        f"or set model_paths.{name} in the profile to a local folder"
    )


def check_available(names: Iterable[str], local_paths: dict[str, str]) -> None:
    """Fail before any work starts if a pretrained model is missing."""
    for name in names:
        if not is_tiny(name):
            resolve_pretrained(name, local_paths)


def _hf_cache_snapshot(hub_id: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(hub_id, "config.json", cache_dir=os.environ.get("HF_HUB_CACHE"))
    return str(Path(found).parent) if isinstance(found, str) else None


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
