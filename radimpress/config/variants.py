"""Model variants: one fine-tune per (modality, base model, input configuration, hyper-parameters).

The hyper-parameter sets come from the profile's `sweep`: every combination of its grid, plus `random.n` sets
drawn (seeded) from its random space, each applied on top of the profile's `lora` and `train`, then the model's own
`per_model` settings (a 22B model on QLoRA where the others use LoRA).
"""

from __future__ import annotations

from dataclasses import dataclass

from radimpress.config.schema import LoraConfig, Profile, TrainConfig, config_digest, hyper_parameter_sets


@dataclass(frozen=True)
class VariantSpec:
    modality: str
    model: str
    input_config: str
    lora: LoraConfig
    train: TrainConfig

    @property
    def variant_id(self) -> str:
        """Readable and unique: the hyper-parameters enter through a short digest."""
        hyper = config_digest(self.lora, self.train)[:6]
        return f"{self.model}.{self.input_config}.{self.modality}.{hyper}"

    def params(self) -> dict[str, object]:
        """Flat parameters, as MLflow shows them."""
        flat: dict[str, object] = {
            "modality": self.modality,
            "model": self.model,
            "input_config": self.input_config,
        }
        flat |= {f"lora.{k}": v for k, v in self.lora.model_dump().items()}
        flat |= {f"train.{k}": v for k, v in self.train.model_dump().items()}
        return flat


def expand_variants(profile: Profile) -> list[VariantSpec]:
    """Every variant the profile asks for, in a stable order."""
    return [
        VariantSpec(modality, model, input_config, lora, train)
        for modality in profile.data.model_modalities
        for model in profile.models
        for input_config in profile.input_configs
        for lora, train in hyper_parameter_sets(profile, model)
    ]
