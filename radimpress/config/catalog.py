"""The models radimpress knows by name: the study's five and their tiny offline analogs (data only).

A tiny analog keeps its family's architecture class and its ratio of attention heads to KV heads
(Llama 3: 4 query heads per KV head; Mistral: 4 as well), so the same code paths run on CPU as on a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TinyShape:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int


@dataclass(frozen=True)
class Architecture:
    """The shape of a real model, as its config.json gives it: enough to count parameters and plan memory."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool = False
    head_dim: int | None = None  # None: hidden_size / num_attention_heads

    @property
    def attention_width(self) -> int:
        return self.num_attention_heads * (self.head_dim or self.hidden_size // self.num_attention_heads)

    @property
    def kv_width(self) -> int:
        return self.num_key_value_heads * (self.head_dim or self.hidden_size // self.num_attention_heads)


@dataclass(frozen=True)
class BaseModelSpec:
    name: str
    family: str  # "llama" or "mistral": picks the config and model class
    hub_id: str | None = None  # None: built offline from `tiny`
    tiny: TinyShape | None = None
    billions: float | None = None  # parameters, for defaults that follow a real model's size
    shape: Architecture | None = None  # a real model's shape, for the memory plan


def size_defaults(spec: BaseModelSpec) -> tuple[dict[str, object], dict[str, object]]:
    """(train, lora) settings a fine-tune of this model gets unless the profile sets them; none for a tiny analog
    (its profile's values are tuned for it). Common LoRA practice: larger models take smaller learning rates and
    micro-batches, with accumulation keeping 16 examples a step."""
    if spec.billions is None:
        return {}, {}
    learning_rate, batch = (2e-4, 8) if spec.billions <= 4 else (1e-4, 4) if spec.billions <= 10 else (5e-5, 2)
    train = {"learning_rate": learning_rate, "batch_size": batch, "gradient_accumulation_steps": 16 // batch}
    return train | {"max_length": 1024, "epochs": 2}, {"r": 16, "alpha": 32, "dropout": 0.05}


MODEL_REGISTRY: dict[str, BaseModelSpec] = {
    spec.name: spec
    for spec in (
        # Offline analogs of the study's five, in the same order of size, all 2 layers deep: width is what grows, so
        # the smoke profile can pretrain and fine-tune all five on 2 CPU cores (14 s to 40 s of pretraining each).
        # 4-bit CPU kernels want hidden and MLP sizes % 64 == 0.
        BaseModelSpec("tiny-llama", "llama", tiny=TinyShape(128, 2, 4, 1, 384)),  # ~ Llama 3.2 1B
        BaseModelSpec("tiny-llama-m", "llama", tiny=TinyShape(192, 2, 8, 2, 576)),  # ~ Llama 3.2 3B
        BaseModelSpec("tiny-llama-l", "llama", tiny=TinyShape(256, 2, 8, 2, 768)),  # ~ Llama 3.1 8B
        BaseModelSpec("tiny-mistral", "mistral", tiny=TinyShape(128, 2, 4, 1, 448)),  # ~ Mistral 7B
        BaseModelSpec("tiny-mistral-l", "mistral", tiny=TinyShape(256, 2, 8, 2, 896)),  # ~ Mistral Small 22B
        # Shapes from each model's config.json on the Hub.
        BaseModelSpec(
            "llama-3.2-1b",
            "llama",
            hub_id="meta-llama/Llama-3.2-1B",
            billions=1.24,
            shape=Architecture(2048, 16, 32, 8, 8192, 128256, tie_word_embeddings=True, head_dim=64),
        ),
        BaseModelSpec(
            "llama-3.2-3b",
            "llama",
            hub_id="meta-llama/Llama-3.2-3B",
            billions=3.21,
            shape=Architecture(3072, 28, 24, 8, 8192, 128256, tie_word_embeddings=True, head_dim=128),
        ),
        BaseModelSpec(
            "llama-3.1-8b",
            "llama",
            hub_id="meta-llama/Llama-3.1-8B",
            billions=8.03,
            shape=Architecture(4096, 32, 32, 8, 14336, 128256),
        ),
        BaseModelSpec(
            "mistral-7b",
            "mistral",
            hub_id="mistralai/Mistral-7B-v0.3",
            billions=7.25,
            shape=Architecture(4096, 32, 32, 8, 14336, 32768),
        ),
        BaseModelSpec(
            "mistral-small-22b",
            "mistral",
            hub_id="mistralai/Mistral-Small-Instruct-2409",
            billions=22.2,
            shape=Architecture(6144, 56, 48, 8, 16384, 32768, head_dim=128),
        ),
    )
}
