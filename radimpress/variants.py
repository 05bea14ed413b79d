"""Model variants: one fine-tune per (modality, base model, input configuration, hyper-parameters).

The hyper-parameter sets come from the profile's `sweep`: every combination of its grid, plus `random.n` sets
drawn (seeded) from its random space, each applied on top of the profile's `lora` and `train`.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from radimpress.config import LoraConfig, Profile, Range, TrainConfig
from radimpress.io import digest_json

SECTIONS = {"lora": LoraConfig, "train": TrainConfig}


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
        hyper = digest_json([self.lora, self.train])[:6]
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
        for lora, train in hyper_parameter_sets(profile)
    ]


def hyper_parameter_sets(profile: Profile) -> list[tuple[LoraConfig, TrainConfig]]:
    """The sweep's sets (grid, then random draws), duplicates removed; just (lora, train) without a sweep.

    Raises:
        ValueError: a sweep key names no field of lora or train, or a value does not fit the field.
    """
    changes = [*_grid(profile.sweep.grid), *(_draws(profile.sweep.random) if profile.sweep.random else [])]
    sets, seen = [], set()
    for change in changes or [{}]:
        pair = _apply(profile.lora, profile.train, change)
        key = digest_json(list(pair))
        if key not in seen:
            seen.add(key)
            sets.append(pair)
    return sets


def _grid(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    if not grid:
        return []
    keys = sorted(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]


def _draws(sweep) -> list[dict[str, Any]]:
    rng = random.Random(sweep.seed)
    keys = sorted(sweep.space)
    return [{key: _draw(rng, sweep.space[key]) for key in keys} for _ in range(sweep.n)]


def _draw(rng: random.Random, space: list[Any] | Range) -> Any:
    if isinstance(space, list):
        return rng.choice(space)
    if space.log:
        return float(f"{math.exp(rng.uniform(math.log(space.low), math.log(space.high))):.3g}")
    return float(f"{rng.uniform(space.low, space.high):.3g}")


def _apply(lora: LoraConfig, train: TrainConfig, change: dict[str, Any]) -> tuple[LoraConfig, TrainConfig]:
    values = {"lora": lora.model_dump(), "train": train.model_dump()}
    for key, value in change.items():
        section, _, name = key.partition(".")
        if section not in SECTIONS or name not in SECTIONS[section].model_fields:
            raise ValueError(f"sweep key '{key}' is not a field of lora or train")
        values[section][name] = value
    try:
        return LoraConfig(**values["lora"]), TrainConfig(**values["train"])
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        raise ValueError(f"sweep value for {field} is invalid: {error['msg']}") from None
