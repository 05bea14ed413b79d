"""Base: where a model to fine-tune is, pretraining a tiny offline one first when the profile names one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from radimpress.config import HubConfig, TinyBaseConfig
from radimpress.config.catalog import MODEL_REGISTRY
from radimpress.files import read_frame
from radimpress.stages.store import stage


def base_stage(
    model: str,
    train_path: Path,
    cfg: TinyBaseConfig,
    model_paths: dict[str, str],
    hub: HubConfig | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> Path:
    """A base ready to fine-tune: a tiny one pretrained offline, or where the pretrained weights are."""
    if MODEL_REGISTRY[model].tiny is None:
        from radimpress.modeling.registry import resolve_pretrained

        return Path(resolve_pretrained(model, model_paths, hub))
    return tiny_base_stage(model, train_path, cfg, on_progress)


@stage("base", exclude=("on_progress",))
def tiny_base_stage(
    model: str, train_path: Path, cfg: TinyBaseConfig, on_progress: Callable[[float], None] | None = None, *, out: Path
) -> Path:
    """A tokenizer and a tiny model pretrained on the training split's sections and synthetic reports."""
    from radimpress.sim.tiny import build_tiny_base, pretraining_corpus  # demo-only code, reached only for tiny bases

    return build_tiny_base(model, pretraining_corpus(read_frame(train_path), cfg), cfg, out, on_progress)
