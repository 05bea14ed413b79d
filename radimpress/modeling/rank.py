"""One rank of a distributed fine-tune (`radimpress.modeling.distributed`): torchrun runs this module N times.

Apart from `distributed`, which only launches, so that `train` (which launches) and this (which trains) never
import each other.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from radimpress.config import LoraConfig, TrainConfig


def run_rank(spec_path: Path) -> None:
    """Fine-tune as this rank, from the spec the launcher wrote."""
    import torch

    from radimpress.modeling.train import finetune

    spec = json.loads(spec_path.read_text())
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))  # "cuda" now means this rank's GPU
    validation = tuple(spec["validation"]) if spec["validation"] else None
    finetune(
        spec["base"],
        spec["prompts"],
        spec["targets"],
        LoraConfig(**spec["lora"]),
        TrainConfig(**spec["train"]),
        Path(spec["out_dir"]),
        cache_dir=Path(spec["cache_dir"]),
        validation=validation,
        start_from=Path(spec["start_from"]) if spec["start_from"] else None,
        max_target=spec["max_target"],
    )


if __name__ == "__main__":
    run_rank(Path(sys.argv[1]))
