"""Fine-tune: one model variant, LoRA / QLoRA / full; a killed attempt resumes from its last checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from radimpress.config.variants import VariantSpec
from radimpress.errors import InjectedFailure
from radimpress.files import read_frame, write_json
from radimpress.modeling.loading import load_tokenizer
from radimpress.modeling.prompts import build_prompts, build_target, target_room
from radimpress.modeling.train import finetune
from radimpress.stages.keys import hub_snapshot_commit
from radimpress.stages.store import stage


@stage("finetune", exclude=("failures", "on_progress"), resumable=True)
def finetune_stage(
    variant: VariantSpec,
    base: Path,
    train_path: Path,
    validation_path: Path | None = None,
    failures: int = 0,
    on_progress: Callable[[float], None] | None = None,
    *,
    out: Path,
) -> Path:
    """adapter/ (PEFT format, with its tokenizer), variant.json, and run.json (time, training and validation loss
    curves, memory). The validation split is measured during training, and chooses the weights with early stopping."""
    fail_if_injected(out, failures)
    tokenizer = load_tokenizer(base)
    train_frame = read_frame(train_path)
    room = target_room(tokenizer, [build_target(text) for text in train_frame["impression"]], variant.train.max_length)
    budget = variant.train.max_length - room  # what a prompt may use: generation fits its prompts to the same
    prompts, targets = _pairs(train_frame, variant.input_config, tokenizer, budget)
    validation = None
    if validation_path:
        validation = _pairs(read_frame(validation_path), variant.input_config, tokenizer, budget)
    finetune(
        base, prompts, targets, variant.lora, variant.train, out, on_progress, validation=validation, max_target=room
    )
    facts = {"base": str(base), "base_revision": base_revision(base), "prompt_budget": budget, "target_room": room}
    write_json(facts | variant.params(), out / "variant.json")
    return out


def _pairs(frame, input_config: str, tokenizer, budget: int) -> tuple[list[str], list[str]]:
    prompts = build_prompts(frame, input_config, tokenizer, budget)
    return prompts, [build_target(text) for text in frame["impression"]]


def fail_if_injected(out_dir: Path, failures: int) -> None:
    """Fail the first `failures` attempts at this output folder (testing retries from the Prefect UI)."""
    if failures <= 0:
        return
    counter = out_dir / "injected_attempts.txt"
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    if attempt <= failures:
        raise InjectedFailure(f"injected failure {attempt} of {failures} in {out_dir.name} (profile faults)")


def base_revision(base: Path) -> str:
    """A pretrained base's Hub snapshot (repo@commit); a tiny base's folder, named by its stage key."""
    return hub_snapshot_commit(base) or Path(base).name
