"""One typed config tree, loaded from YAML profiles shipped in `radimpress/profiles/`.

Every field has a description; unknown keys are rejected (`extra="forbid"`), so a typo in a profile fails
with the field's dotted name instead of being silently ignored.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import random
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from radimpress.config.catalog import MODEL_REGISTRY, size_defaults
from radimpress.errors import ProfileError

InputConfig = Literal["findings", "findings_clinical", "instruction"]
CANONICAL_COLUMNS = (
    "report_id",
    "patient_id",
    "study_id",
    "modality",
    "exam",
    "clinical_information",
    "findings",
    "impression",
    "other_sections",  # free-text report parts outside the fields above, labelled (see radimpress.data.sections)
)
# Modality codes the segment stage gives; a profile naming any other (a typo such as "mammo") is refused at load.
MODALITIES = ("mri", "ct", "ultrasound", "mammography", "nuclear_medicine", "fluoroscopy", "xray", "unknown")
ExportFormat = Literal["auto", "csv", "tsv", "parquet", "jsonl", "text_folder"]


def _known_modality(value: str) -> str:
    if value not in MODALITIES:
        raise ValueError(f"'{value}' is not a modality; the known ones are: {', '.join(MODALITIES)}")
    return value


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnMapping(StrictModel):
    """Which source column holds each canonical field. An optional field whose column is absent stays empty."""

    report_id: str | None = Field("report_id", description="Unique report id; None numbers the rows.")
    patient_id: str | None = Field(
        "patient_id", description="Patient id: splits never put one patient in two splits. Optional."
    )
    study_id: str | None = Field("study_id", description="Study id: used for splits when there is no patient id.")
    modality: str | None = Field("modality", description="Modality code or exam type; None reads 'unknown'.")
    exam: str | None = Field("exam", description="Exam description; optional.")
    clinical_information: str | None = Field(
        "clinical_information", description="Clinical information / indication; optional."
    )
    findings: str = Field("findings", description="FINDINGS section (required).")
    impression: str = Field("impression", description="IMPRESSION section (required: the training target).")
    text: str | None = Field(
        None,
        description="Column holding whole free-text reports, split at their headings (FINDINGS:, IMPRESSION:, ...); "
        "sections fill the fields whose own column is absent or empty. A text folder sets it to 'text'.",
    )
    ground_truth: str | None = Field(
        None,
        description="Ground truth of reports made by radimpress's generator (for the simulated reviewer).",
    )


class DataConfig(StrictModel):
    """Where the reports come from and which modalities are modelled."""

    source: Literal["synthetic", "file"] = Field("synthetic", description="Synthetic generator or a file export.")
    path: Path | None = Field(
        None,
        description="The export when source is 'file': a CSV / TSV, Parquet or JSONL file, "
        "or a folder of .txt reports.",
    )
    format: ExportFormat = Field("auto", description="Export format; auto reads it from the suffix (a folder: text).")
    encoding: str = Field(
        "auto", description="Text encoding; auto detects UTF-8 (BOM or not), UTF-16, else Windows cp1252 / latin-1."
    )
    max_section_chars: int = Field(
        20_000,
        gt=0,
        description="Longest findings / impression / clinical information kept; longer rows are quarantined.",
    )
    columns: ColumnMapping = Field(default_factory=ColumnMapping, description="Source column names.")
    n_reports: int = Field(600, gt=0, description="How many synthetic reports to generate.")
    seed: int = Field(0, description="Seed of the synthetic generator.")
    model_modalities: list[str] = Field(["mri"], min_length=1, description="Modalities to fine-tune on.")
    default_modality: str | None = Field(
        None, description="Modality of rows whose export gives none: set it for a single-modality export."
    )

    @field_validator("model_modalities")
    @classmethod
    def _unique_modalities(cls, values: list[str]) -> list[str]:
        for value in values:
            _known_modality(value)
        return _require_unique(values)

    @field_validator("default_modality")
    @classmethod
    def _known_default_modality(cls, value: str | None) -> str | None:
        return None if value is None else _known_modality(value)

    @field_validator("path", mode="before")
    @classmethod
    def _expand_environment(cls, path: object) -> object:
        """`${NAME}` in a path reads the environment, so a profile can name data that lives outside the project."""
        if not isinstance(path, str) or "$" not in path:
            return path
        unset = [name for name in re.findall(r"\$\{(\w+)\}", path) if name not in os.environ]
        if unset:
            raise ValueError(f"names environment variable {unset[0]}, which is not set")
        return os.path.expandvars(path)

    @model_validator(mode="after")
    def _file_needs_path(self) -> DataConfig:
        if self.source == "file" and self.path is None:
            raise ValueError("data.path is required when data.source is 'file'")
        return self


class SplitConfig(StrictModel):
    """Deterministic train / validation / test split."""

    train: float = Field(0.8, gt=0, lt=1, description="Share of reports for training.")
    validation: float = Field(
        0.1, gt=0, lt=1, description="Share for validation: top models and early stopping are chosen on it."
    )
    test: float = Field(0.1, gt=0, lt=1, description="Share for the test set every model is scored on.")
    seed: int = Field(0, description="Seed of the shuffle.")

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> SplitConfig:
        if abs(self.train + self.validation + self.test - 1) > 1e-6:
            raise ValueError("split.train + split.validation + split.test must sum to 1")
        return self


class LoraConfig(StrictModel):
    """LoRA adapter shape."""

    r: int = Field(8, gt=0, description="Rank of the update matrices.")
    alpha: int = Field(16, gt=0, description="Scaling numerator (scale = alpha / r).")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA input.")
    target_modules: list[str] = Field(
        ["q_proj", "k_proj", "v_proj", "o_proj"], min_length=1, description="Linear layers that get adapters."
    )


class TrainConfig(StrictModel):
    """Optimisation of one fine-tune."""

    method: Literal["lora", "qlora", "full"] = Field(
        "lora",
        description="lora: adapters on a frozen base; qlora: adapters on a 4-bit nf4 base (bitsandbytes); "
        "full: every weight trained.",
    )
    epochs: float = Field(3, gt=0, description="Passes over the training split.")
    learning_rate: float = Field(2e-3, gt=0, description="Peak learning rate.")
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field(
        "linear", description="Learning-rate schedule after warm-up."
    )
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="Share of the steps spent warming the learning rate up.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    batch_size: int = Field(16, gt=0, description="Micro-batch size (halved on a CUDA out-of-memory error).")
    gradient_accumulation_steps: int = Field(
        1, gt=0, description="Micro-batches per optimizer step (doubled when the micro-batch is halved)."
    )
    max_length: int = Field(256, ge=16, description="Prompt + impression tokens; longer prompts are cut from the left.")
    packing: bool = Field(
        False,
        description="Pack whole examples into rows of max_length tokens; attention and positions restart at each "
        "example, so none sees another. Less padding, fewer steps per epoch (batch_size then counts rows).",
    )
    precision: Literal["auto", "fp32"] = Field(
        "auto", description="auto: bf16 where the GPU supports it, fp32 on CPU; fp32 always."
    )
    checkpoint_steps: int = Field(
        50, ge=0, description="Save a resumable checkpoint every N optimizer steps (0: none); a retry resumes."
    )
    oom_backoffs: int = Field(
        3, ge=0, description="Times a CUDA out-of-memory error may halve the micro-batch before the fine-tune fails."
    )
    gpus: int = Field(
        1,
        ge=1,
        description="GPUs (processes) one fine-tune spans, launched with torchrun: DDP for lora and qlora (each rank "
        "takes batch_size / gpus), FSDP for full. On CPU, lora and qlora run as gloo processes.",
    )
    gradient_checkpointing: bool | None = Field(
        None,
        description="Recompute activations in the backward pass: less memory, about a third more compute. "
        "None: on for models above 1B parameters.",
    )
    optimizer: Literal["auto", "adamw", "adamw_8bit", "paged_adamw_8bit"] = Field(
        "auto",
        description="auto: paged 8-bit AdamW (bitsandbytes) for qlora on a GPU, else AdamW. 8-bit moments take 2 "
        "bytes a parameter instead of 8; paged ones move to CPU memory under pressure instead of failing.",
    )
    eval_steps: int = Field(
        0, ge=0, description="Validation loss every N optimizer steps; 0: at the end of every epoch."
    )
    early_stopping_patience: int = Field(
        0,
        ge=0,
        description="Stop after this many validation losses in a row without a lower one, and keep the weights of "
        "the best evaluation (0: no early stopping). Checkpoints are then saved at every evaluation.",
    )
    early_stopping_threshold: float = Field(
        0.0, ge=0, description="The least fall in validation loss that counts as lower, for early stopping."
    )
    seed: int = Field(0, description="Seed of initialisation and data order.")


class TinyBaseConfig(StrictModel):
    """Offline tiny bases for CPU runs: a tokenizer and a short causal-LM pretraining on report text that is not
    the fine-tuning target (separate synthetic reports, and the training split's findings and clinical information)."""

    vocab_size: int = Field(1024, ge=300, description="BPE vocabulary size of the tokenizer.")
    pretrain_reports: int = Field(2000, ge=0, description="Synthetic reports (their own seed) in the corpus.")
    pretrain_steps: int = Field(250, ge=0, description="Optimizer steps of pretraining; 0 leaves the model random.")
    pretrain_batch_size: int = Field(32, gt=0, description="Documents per pretraining step.")
    pretrain_learning_rate: float = Field(3e-3, gt=0, description="Peak learning rate (linear decay).")
    seed: int = Field(0, description="Seed of the corpus, the initialisation and the batches.")


class GenerateConfig(StrictModel):
    """Batched generation over the test split: greedy by default, beam search or sampling on request."""

    max_new_tokens: int | None = Field(
        None,
        gt=0,
        description="Cap on generated impression tokens; None: the room the fine-tune kept for its targets (the "
        "training impressions' 99th percentile + 8 tokens).",
    )
    backend: Literal["transformers", "vllm"] = Field(
        "transformers",
        description="transformers: runs everywhere, the tested reference; vllm: GPU only, an engine in the generate "
        "stage's own process (freed when it ends), needs `pip install vllm`; greedy or sampling, no beam search.",
    )
    gpu_memory_utilization: float = Field(
        0.85,
        gt=0,
        le=1,
        description="vllm: share of the GPU's memory the engine may take (weights, KV cache); the rest stays free "
        "for whatever else the GPU runs.",
    )
    batch_size: int = Field(64, gt=0, description="Prompts decoded together (similar lengths batched together).")
    num_beams: int = Field(1, gt=0, description="Beam search width; 1 is greedy (or sampling).")
    do_sample: bool = Field(False, description="Sample instead of taking the most likely token.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass.")
    seed: int = Field(0, description="Seed of sampling.")

    @model_validator(mode="after")
    def _vllm_has_no_beam_search(self) -> GenerateConfig:
        if self.backend == "vllm" and self.num_beams > 1:
            raise ValueError(
                "generate.backend 'vllm' runs greedy or sampling; beam search needs backend 'transformers'"
            )
        return self


class EncoderConfig(StrictModel):
    """A sentence encoder for an embedding-based metric."""

    name: str = Field("all-MiniLM-L6-v2", description="Short name used in metric keys and tables.")
    path: Path | None = Field(None, description="Local model folder; None uses the offline all-MiniLM-L6-v2 package.")
    num_layers: int | None = Field(
        None,
        gt=0,
        description="BERTScore: the hidden layer to read; None takes bert-score's own table for known models "
        "(and 6, the last, for the offline all-MiniLM-L6-v2); a local ClinicalBERT or RadBERT folder needs it set.",
    )


class ScoreConfig(StrictModel):
    """Reference-based metrics."""

    bertscore: EncoderConfig = Field(default_factory=EncoderConfig, description="BERTScore encoder.")
    similarity: list[EncoderConfig] = Field(
        default_factory=lambda: [EncoderConfig()],
        description="Encoders for cosine similarity (the study used ClinicalBERT and RadBERT on GPU).",
    )

    @field_validator("similarity")
    @classmethod
    def _unique_names(cls, encoders: list[EncoderConfig]) -> list[EncoderConfig]:
        _require_unique([e.name for e in encoders])
        return encoders


class SelectConfig(StrictModel):
    """How the top models are chosen."""

    top_k: int = Field(5, gt=0, description="How many variants go on to review, judge and comparison.")
    metric: str = Field("rougeL_f1", description="Score to rank variants by (higher is better).")
    per_model: bool = Field(
        True,
        description="Rank only each model's best variant, as the study compared its top models one configuration "
        "each; false ranks every variant, so one model may take several places.",
    )


class RubricConfig(StrictModel):
    """Factual-correctness rubric (docs/rubric.md): penalties from a 10-point start."""

    contradiction: float = Field(4, ge=0, description="Present stated absent (or vice versa), wrong side, severity.")
    major_omission: float = Field(3, ge=0, description="Clinically significant finding left out.")
    minor_omission: float = Field(1, ge=0, description="Minor finding left out.")
    unsupported_addition: float = Field(2, ge=0, description="Finding or claim not supported by the findings.")


class ReviewConfig(StrictModel):
    """Where factual-correctness scores for the judge's training come from."""

    source: Literal["simulated", "file", "app"] = Field(
        "simulated",
        description="'simulated' applies the rubric to synthetic ground truth; 'file' reads reviewers' CSV; 'app' "
        "publishes the sample to the review page (`radimpress review serve`) and reads its answers.",
    )
    scores_file: Path | None = Field(None, description="CSV of reviewers' scores (report_id, variant_id, score).")
    n_samples: int = Field(
        100,
        gt=1,
        description="Generated impressions sampled for review, stratified over the top variants and modalities.",
    )
    seed: int = Field(0, description="Seed of the review sample and of each reviewer's order.")
    reviewers: list[str] = Field(
        default_factory=lambda: ["reviewer-1"], min_length=1, description="Reviewers' names (pseudonyms are fine)."
    )
    lead: str | None = Field(None, description="The lead reviewer (default: the first of `reviewers`).")
    calibration_share: float = Field(
        0.2, ge=0, le=1, description="Share of items every reviewer scores (agreement between raters)."
    )
    store: Path | None = Field(None, description="The review store (SQLite); default <data dir>/review/review.sqlite.")
    pairwise: int = Field(
        0,
        ge=0,
        description="Pairs of the top two variants' impressions of one report that every reviewer compares side by "
        "side (the study's manual comparison; source: app; 0: none).",
    )
    wait_hours: float = Field(
        168, gt=0, description="How long a flow run waits, suspended, for the reviews before it fails (source: app)."
    )
    rubric: RubricConfig = Field(default_factory=RubricConfig, description="Rubric weights.")


class JudgeConfig(StrictModel):
    """The factual-correctness judge: an LM fine-tuned on (reference, generated) -> score."""

    model: str = Field("tiny-llama", description="Base model of the judge.")
    lora: LoraConfig = Field(
        default_factory=LoraConfig,
        description="Adapter of the judge; for a real model, rank 16 and alpha 32 unless set.",
    )
    train: TrainConfig = Field(
        default_factory=TrainConfig,
        description="Optimisation of the judge; for a real model, the learning rate and micro-batch follow its size "
        "(2e-4 and 8 up to 4B parameters, 1e-4 and 4 up to 10B, 5e-5 and 2 above; 16 examples a step, 2 epochs, "
        "1024 tokens) unless set.",
    )
    folds: int = Field(
        5,
        ge=2,
        description="Cross-validation folds over the reviewed items, grouped by report: a judge per fold scores "
        "the items it never saw, and that agreement with the reviewers is what the comparison reports.",
    )
    score_batch_size: int = Field(16, gt=0, description="Prompts the judge scores together.")
    perturbations: int = Field(
        2000,
        ge=0,
        description="Rubric-labelled training pairs made from the training split's references (a finding negated, "
        "a side swapped, a finding dropped or added, ...), learnt before the reviewers' scores; 0 learns from "
        "the reviewers alone.",
    )
    perturbation_epochs: float = Field(
        3, gt=0, description="Passes over the perturbation pairs, learnt once before the reviewed items."
    )
    human_weight: int = Field(
        3, ge=1, description="How many times each reviewed item is repeated in its training passes (train.epochs)."
    )
    score_from: Literal["direct", "errors"] = Field(
        "direct",
        description="The judge's score: 'direct' is its expected score word; 'errors' applies the rubric's "
        "penalties to the counts it expects in its error slots. The trust table reports both; direct measured "
        "better on the smoke profile (docs/rubric.md).",
    )

    @field_validator("model")
    @classmethod
    def _known_model(cls, name: str) -> str:
        return _check_model_name(name)

    @model_validator(mode="before")
    @classmethod
    def _defaults_follow_the_model_size(cls, data: Any) -> Any:
        """A real judge model gets learning rate, rank and batch for its size wherever the profile is silent
        (tiny defaults such as learning rate 2e-3 would wreck an 8B judge)."""
        if not isinstance(data, dict):
            return data
        spec = MODEL_REGISTRY.get(data.get("model", cls.model_fields["model"].default))
        train, lora = size_defaults(spec) if spec else ({}, {})
        if not train and not lora:
            return data

        def filled(section: str, defaults: dict[str, object]) -> dict[str, object]:
            given = data.get(section) or {}
            return defaults | (given.model_dump(exclude_unset=True) if isinstance(given, BaseModel) else given)

        return data | {"train": filled("train", train), "lora": filled("lora", lora)}


class TrackingConfig(StrictModel):
    """MLflow tracking."""

    experiment: str = Field("radimpress", description="MLflow experiment name.")
    report_text: Literal["none", "redacted", "raw"] = Field(
        "redacted",
        description="Report text in MLflow and Prefect artifacts (generations, EDA examples): 'redacted' passes it "
        "through the PHI redaction first, 'raw' is for de-identified or synthetic reports only, 'none' logs no text. "
        "A tiny base's tokenizer (its vocabulary is learnt from the reports) is logged only with 'raw'.",
    )


class Range(StrictModel):
    """A continuous range a random sweep samples from."""

    low: float = Field(description="Lower bound.")
    high: float = Field(description="Upper bound.")
    log: bool = Field(False, description="Sample uniformly in log space (learning rates).")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        ordered = (0 < self.low < self.high) if self.log else (self.low < self.high)
        if not ordered:
            raise ValueError("a range needs low < high (and low > 0 when log)")
        return self


class RandomSweep(StrictModel):
    """n hyper-parameter sets drawn at random (seeded) from `space`."""

    n: int = Field(gt=0, description="How many sets to draw.")
    seed: int = Field(0, description="Seed of the draws.")
    space: dict[str, list[Any] | Range] = Field(
        description="'lora.<field>' or 'train.<field>' -> a list to choose from, or a {low, high, log} range."
    )


class SweepConfig(StrictModel):
    """Hyper-parameter variants on top of `lora` and `train`: one fine-tune per set x model x input configuration."""

    grid: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="'lora.<field>' or 'train.<field>' -> values; every combination is one set.",
    )
    random: RandomSweep | None = Field(None, description="Sets drawn at random, added to the grid's.")

    @field_validator("grid")
    @classmethod
    def _grid_values(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in grid.items():
            if not values:
                raise ValueError(f"sweep.grid.{key} needs at least one value")
        return grid


class HubConfig(StrictModel):
    """Where the study's pretrained models come from. Access tokens never live in a profile: gated models read
    HF_TOKEN from the environment, else the Prefect Secret block named by `token_secret`."""

    ids: dict[str, str] = Field(
        default_factory=dict,
        description="model name -> Hugging Face id to use instead of the registry's (an instruct variant, a mirror).",
    )
    revisions: dict[str, str] = Field(
        default_factory=dict,
        description="model name -> Hub revision to pin (commit hash, tag or branch); unpinned models use 'main'.",
    )
    download: bool = Field(
        False,
        description="Download a pretrained model missing from the Hugging Face cache when the run starts "
        "(needs the Hub reachable); off, a missing model fails the run at once with the command to fetch it.",
    )
    token_secret: str = Field(
        "hf-token", description="Prefect Secret block with a Hub token for gated models; HF_TOKEN wins when set."
    )
    endpoint: str | None = Field(
        None,
        description="Hub (or mirror, e.g. the hospital's artifact proxy) to download from; None: HF_ENDPOINT, else "
        "huggingface.co. Only the download step goes online: every other step stays offline.",
    )

    @field_validator("ids", "revisions")
    @classmethod
    def _pretrained_models_only(cls, by_model: dict[str, str]) -> dict[str, str]:
        for name in by_model:
            _check_model_name(name)
            if MODEL_REGISTRY[name].tiny is not None:
                raise ValueError(f"'{name}' is built offline and has no Hub id or revision")
        return by_model


class FaultsConfig(StrictModel):
    """Injected failures, to exercise retries from the Prefect UI (tests and demos only)."""

    finetune_failures: dict[str, int] = Field(
        default_factory=dict, description="model name -> how many first attempts of its fine-tunes fail."
    )


class Profile(StrictModel):
    """A whole experiment: data, models, training, scoring, review and judge."""

    name: str = Field(description="Profile name; shown in MLflow and Prefect.")
    description: str = Field("", description="What this profile is for.")
    data: DataConfig = Field(default_factory=DataConfig, description="Input reports.")
    split: SplitConfig = Field(default_factory=SplitConfig, description="Train / validation / test.")
    models: list[str] = Field(["tiny-llama", "tiny-mistral"], min_length=1, description="Base models to fine-tune.")
    # Strings, not Paths: cache keys hash Paths by content, and a real model folder holds tens of GB.
    model_paths: dict[str, str] = Field(
        default_factory=dict,
        description="model name -> local folder, for models not in the Hugging Face cache.",
    )
    hub: HubConfig = Field(default_factory=HubConfig, description="Hugging Face ids, pinned revisions, downloads.")
    input_configs: list[InputConfig] = Field(["findings_clinical"], min_length=1, description="Prompt inputs.")
    tiny_base: TinyBaseConfig = Field(default_factory=TinyBaseConfig, description="Offline tiny bases.")
    lora: LoraConfig = Field(default_factory=LoraConfig, description="Adapter of every fine-tune.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="Optimisation of every fine-tune.")
    generate: GenerateConfig = Field(default_factory=GenerateConfig, description="Generation.")
    score: ScoreConfig = Field(default_factory=ScoreConfig, description="Metrics.")
    select: SelectConfig = Field(default_factory=SelectConfig, description="Top-model selection.")
    review: ReviewConfig = Field(default_factory=ReviewConfig, description="Factual-correctness review.")
    judge: JudgeConfig = Field(default_factory=JudgeConfig, description="Judge model.")
    tracking: TrackingConfig = Field(default_factory=TrackingConfig, description="MLflow.")
    sweep: SweepConfig = Field(default_factory=SweepConfig, description="Hyper-parameter sweep (grid and random).")
    faults: FaultsConfig = Field(default_factory=FaultsConfig, description="Injected failures (testing only).")
    per_model: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="model name -> {'lora.<field>' or 'train.<field>': value} set for that model's fine-tunes only, "
        "on top of every sweep set (e.g. {mistral-small-22b: {train.method: qlora}}): the model's value wins.",
    )

    @model_validator(mode="after")
    def _sweep_keys_are_fields(self) -> Profile:
        unlisted = sorted(set(self.per_model) - set(self.models))
        if unlisted:
            raise ValueError(f"per_model names {unlisted[0]}, which is not in models")
        for model in [None, *self.per_model]:
            hyper_parameter_sets(self, model)  # checks every key and value by building the configs
        return self

    @field_validator("models")
    @classmethod
    def _known_models(cls, names: list[str]) -> list[str]:
        return [_check_model_name(name) for name in names]

    @field_validator("model_paths")
    @classmethod
    def _known_model_paths(cls, paths: dict[str, str]) -> dict[str, str]:
        for name in paths:
            _check_model_name(name)
        return paths

    @field_validator("models", "input_configs")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        return _require_unique(values)

    @model_validator(mode="after")
    def _known_selection_metric(self) -> Profile:
        known = [f"{k}_{p}" for k in ("rouge1", "rouge2", "rougeL", "rougeLsum") for p in ("precision", "recall", "f1")]
        known += ["bleu", "bertscore_precision", "bertscore_recall", "bertscore_f1"]
        known += [f"similarity_{e.name}" for e in self.score.similarity]
        if self.select.metric not in known:
            raise ValueError(f"select.metric '{self.select.metric}' is not a score; choose one of {', '.join(known)}")
        return self

    @model_validator(mode="after")
    def _simulated_review_needs_ground_truth(self) -> Profile:
        has_truth = self.data.source == "synthetic" or self.data.columns.ground_truth is not None
        if self.review.source == "simulated" and not has_truth:
            raise ValueError(
                "review.source 'simulated' needs synthetic ground truth (data.source 'synthetic' or "
                "data.columns.ground_truth); real reports need review.source 'file'"
            )
        return self


def _require_unique(values: list[str]) -> list[str]:
    """Repeated entries would make identical variants writing the same stage folder."""
    if len(set(values)) != len(values):
        raise ValueError(f"entries must be unique, got {values}")
    return values


def _check_model_name(name: str) -> str:
    if name not in MODEL_REGISTRY:
        raise ValueError(f"unknown model '{name}'; known models: {', '.join(sorted(MODEL_REGISTRY))}")
    return name


def shipped_profiles() -> list[str]:
    """Names of the profiles shipped inside the package."""
    folder = resources.files("radimpress") / "profiles"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a shipped profile by name, or a profile YAML by path.

    Raises:
        ProfileError: one line naming the missing file or the invalid field.
    """
    raw = _read_profile_yaml(name_or_path)
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:
        raise ProfileError(f"invalid profile '{name_or_path}': {_describe(exc)}") from None


def _read_profile_yaml(name_or_path: str | Path) -> dict:
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = Path(str(resources.files("radimpress") / "profiles" / f"{name_or_path}.yaml"))
        if not path.is_file():
            raise ProfileError(f"unknown profile '{name_or_path}'; shipped profiles: {', '.join(shipped_profiles())}")
    if not path.is_file():
        raise ProfileError(f"profile file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ProfileError(f"profile {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"profile {path} must be a YAML mapping of fields")
    return raw


def _describe(exc: ValidationError) -> str:
    """All validation errors on one line, each with its dotted field name."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "profile"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


SECTIONS = {"lora": LoraConfig, "train": TrainConfig}


def hyper_parameter_sets(profile: Profile, model: str | None = None) -> list[tuple[LoraConfig, TrainConfig]]:
    """The sweep's sets (grid, then random draws), duplicates removed; just (lora, train) without a sweep. With
    `model`, its `per_model` settings are applied on top of each set.

    Raises:
        ValueError: a sweep or per_model key names no field of lora or train, or a value does not fit the field.
    """
    changes = [*_grid(profile.sweep.grid), *(_draws(profile.sweep.random) if profile.sweep.random else [])]
    own = profile.per_model.get(model, {}) if model else {}
    sets, seen = [], set()
    for change in changes or [{}]:
        pair = _apply(profile.lora, profile.train, change | own)
        key = config_digest(*pair)
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
            raise ValueError(f"sweep or per_model key '{key}' is not a field of lora or train")
        values[section][name] = value
    try:
        return LoraConfig(**values["lora"]), TrainConfig(**values["train"])
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        raise ValueError(f"sweep value for {field} is invalid: {error['msg']}") from None


def config_digest(*sections: BaseModel) -> str:
    """sha256 of config sections' values: equal settings, equal digest (names variants, removes repeated sweep sets)."""
    values = [section.model_dump(mode="json") for section in sections]
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()
